"""Deterministic RSA keys for the simulated card and its test PKI.

Every simulated card must present the same certificates and signatures on every run and on every machine
(tests compare DER, trust stores written today must still verify a card built tomorrow), so keys are
derived from a label instead of the OS random source. The derivation is public, hence the keys are
worthless as secrets: labels must start with ``TEST-ONLY`` so nobody can mistake one for a real key.

Generation is pure Python (about 0.3 s for 2048 bits); keys are cached in process and as PEM files under
``$KIOSK_SIM_CACHE`` (default ``~/.cache/mynumber-kiosk/sim-keys``).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

LOG = logging.getLogger(__name__)

LABEL_PREFIX = "TEST-ONLY"
PUBLIC_EXPONENT = 65537
CACHE_ENV = "KIOSK_SIM_CACHE"
DEFAULT_CACHE = Path("~/.cache/mynumber-kiosk/sim-keys")
_DERIVATION = b"mynumber-kiosk/sim-rsa/v1"
_MILLER_RABIN_ROUNDS = 8  # FIPS 186-5 asks for 5 at 1024-bit primes; a few more cost little


def _small_primes(limit: int) -> list[int]:
    sieve = bytearray([1]) * (limit + 1)
    sieve[0:2] = b"\x00\x00"
    for i in range(2, math.isqrt(limit) + 1):
        if sieve[i]:
            sieve[i * i :: i] = bytearray(len(sieve[i * i :: i]))
    return [i for i, flag in enumerate(sieve) if flag]


# One gcd against the product of small primes rejects ~90 % of candidates before any modexp.
_SMALL_PRIMES = _small_primes(20000)
_SMALL_PRODUCT = math.prod(_SMALL_PRIMES[1:])  # odd primes only: candidates are odd already


class _Drbg:
    """SHA-256 in counter mode: a reproducible byte stream for one label (not a secure RNG)."""

    def __init__(self, seed: bytes) -> None:
        self._seed = hashlib.sha256(_DERIVATION + b"\0" + seed).digest()
        self._counter = 0

    def read(self, count: int) -> bytes:
        out = bytearray()
        while len(out) < count:
            self._counter += 1
            out += hashlib.sha256(self._seed + self._counter.to_bytes(8, "big")).digest()
        return bytes(out[:count])


def _bases(candidate: int) -> Iterator[int]:
    """Miller-Rabin bases: 2 first (rejects almost every composite), then bases derived from the candidate.

    Deriving them from the candidate rather than the key's stream keeps the key a function of the label
    alone, whatever sieve or round count a later version uses.
    """
    yield 2
    stream = _Drbg(candidate.to_bytes((candidate.bit_length() + 7) // 8, "big"))
    span = candidate - 3
    for _ in range(_MILLER_RABIN_ROUNDS - 1):
        yield 2 + int.from_bytes(stream.read((span.bit_length() + 7) // 8 + 8), "big") % span


def _probably_prime(candidate: int) -> bool:
    d, shift = candidate - 1, 0
    while not d & 1:
        d >>= 1
        shift += 1
    for base in _bases(candidate):
        x = pow(base, d, candidate)
        if x in (1, candidate - 1):
            continue
        for _ in range(shift - 1):
            x = pow(x, 2, candidate)
            if x == candidate - 1:
                break
        else:
            return False
    return True


def _prime(bits: int, drbg: _Drbg) -> int:
    """A prime of exactly ``bits`` bits with the top two bits set (so p·q has 2·bits bits), p ≢ 1 mod e."""
    top = (1 << (bits - 1)) | (1 << (bits - 2))
    nbytes = (bits + 7) // 8
    while True:
        candidate = (int.from_bytes(drbg.read(nbytes), "big") >> (nbytes * 8 - bits)) | top | 1
        if math.gcd(candidate, _SMALL_PRODUCT) != 1:
            continue
        if candidate % PUBLIC_EXPONENT == 1:  # e must be invertible mod p-1
            continue
        if _probably_prime(candidate):
            return candidate


def _check_label(label: str, bits: int) -> None:
    if not label.startswith(LABEL_PREFIX):
        raise ValueError(f"simulator key labels must start with {LABEL_PREFIX!r} (got {label!r})")
    if bits < 1024 or bits % 16:
        raise ValueError(f"key size must be a multiple of 16 and at least 1024 bits (got {bits})")


def derive_private_numbers(label: str, bits: int = 2048) -> rsa.RSAPrivateNumbers:
    """The RSA numbers for ``label``: same label and size give the same key on any machine."""
    _check_label(label, bits)
    drbg = _Drbg(label.encode("utf-8") + b"\0" + str(bits).encode("ascii"))
    half = bits // 2
    p = _prime(half, drbg)
    q = _prime(half, drbg)
    while q == p:  # astronomically unlikely, but a key with p == q would be broken
        q = _prime(half, drbg)
    if p < q:
        p, q = q, p
    d = pow(PUBLIC_EXPONENT, -1, math.lcm(p - 1, q - 1))
    public = rsa.RSAPublicNumbers(PUBLIC_EXPONENT, p * q)
    return rsa.RSAPrivateNumbers(
        p=p,
        q=q,
        d=d,
        dmp1=rsa.rsa_crt_dmp1(d, p),
        dmq1=rsa.rsa_crt_dmq1(d, q),
        iqmp=rsa.rsa_crt_iqmp(p, q),
        public_numbers=public,
    )


def cache_directory() -> Path:
    """Where PEM copies live; read at every call so tests can point it at a temporary directory."""
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE).expanduser()


def cache_file_name(label: str, bits: int) -> str:
    """A file name that reveals nothing of the label but is stable for (label, bits)."""
    digest = hashlib.sha256(f"{label}\0{bits}".encode()).hexdigest()[:32]
    return f"rsa{bits}-{digest}.pem"


def _load_cached(path: Path, bits: int) -> rsa.RSAPrivateKey | None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        LOG.debug("simulator key cache %s unreadable (%s); regenerating", path.name, exc.__class__.__name__)
        return None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        LOG.debug("simulator key cache %s is corrupt; regenerating", path.name)
        return None
    if (
        not isinstance(key, rsa.RSAPrivateKey)
        or key.key_size != bits
        or key.public_key().public_numbers().e != PUBLIC_EXPONENT
    ):
        LOG.debug("simulator key cache %s holds an unexpected key; regenerating", path.name)
        return None
    return key


def _store(path: Path, key: rsa.RSAPrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", suffix=".pem", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp_name, path)  # atomic: a concurrent reader sees the old file or the new one
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
    except OSError as exc:  # a read-only home must not stop the simulator; the key is still usable
        LOG.debug("cannot write simulator key cache in %s (%s)", path.parent, exc.__class__.__name__)


@functools.cache
def deterministic_rsa_key(label: str, bits: int = 2048) -> rsa.RSAPrivateKey:
    """The test-only RSA key for ``label`` (e=65537), from memory, the PEM cache or freshly derived."""
    _check_label(label, bits)
    path = cache_directory() / cache_file_name(label, bits)
    key = _load_cached(path, bits)
    if key is None:
        key = derive_private_numbers(label, bits).private_key()
        _store(path, key)
    return key
