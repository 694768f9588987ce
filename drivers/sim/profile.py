"""Synthetic resident profiles (TOML) and the card image built from them.

A profile file describes one fictional resident and the state of their card (PIN counters, certificate
dates, deliberate faults). City IT staff write these files for demos and training, so every mistake is
reported as a ``ProfileError`` naming the file, the key and what is expected. ``build_card_image`` turns
a profile into the applications, EFs, PINs and keys of card-protocol.md §1; the result is deterministic
for a given ``today``.
"""

from __future__ import annotations

import calendar
import hashlib
import re
import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, NoReturn

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from drivers.mynumber import aids
from drivers.mynumber.basic4 import is_valid_my_number as is_valid_my_number  # re-exported
from drivers.mynumber.basic4 import my_number_check_digit
from drivers.sim import images, layouts, pki
from drivers.sim.model import ApplicationSpec, CardImage, EfSpec, KeySpec, PinFormat, PinSpec
from drivers.sim.rsakeys import deterministic_rsa_key

# --- card facts (card-protocol.md §0, §1) -------------------------------------------------------------
JPKI_AID, TEXT_AID, VISUAL_AID, JUKI_AID = (app.aid for app in aids.ALL)
APP_JPKI, APP_TEXT, APP_VISUAL, APP_JUKI = (app.key for app in aids.ALL)
ATR_CLASSIC, ATR_NEWER = aids.ATR_CLASSIC, aids.ATR_NEWER


def _bundled_profiles() -> Path:
    """The synthetic residents shipped with the kiosk: config/cards, which the wheel carries as package data
    of ``kiosk.defaults`` (kiosk/defaults/cards; in a checkout a link to config/cards, resolved here).

    Found by location next to this package rather than through importlib.resources, which would import
    kiosk: drivers never import kiosk code.
    """
    root = Path(__file__).resolve().parents[2]
    packaged = (root / "kiosk" / "defaults" / "cards").resolve()
    return packaged if packaged.is_dir() else root / "config" / "cards"


BUNDLED_PROFILES = _bundled_profiles()

CERT_EF_SIZE = 2048
BASIC4_EF_MIN = 512
TEXT_AP_INFO = b"\x00\x01\x00\x01"  # UNCONFIRMED meaning of the 4-byte AP info
VISUAL_AP_INFO = b"\x00\x02\x00\x01"
VISUAL_AP_VERSION = 1
UNCONFIRMED_CARD_INFO_TRIES = 10  # PIN A / PIN B / birth PIN: single source (RTC) — UNCONFIRMED


class ProfileError(ValueError):
    """A profile file that cannot be used; the message says which file, which key and what to write."""

    def __init__(self, source: str, key: str, message: str) -> None:
        self.source = source
        self.key = key
        super().__init__(f"{source}: {key}: {message}" if key else f"{source}: {message}")


# --- date specifications -----------------------------------------------------------------------------

_RELATIVE = re.compile(r"^([+-])(\d{1,3})([dwmy])$")


@dataclass(frozen=True, slots=True)
class DateSpec:
    """An absolute date or one relative to the build day ("+5y", "-30d", "+6m", "-2w", "today")."""

    absolute: date | None = None
    amount: int = 0
    unit: str = "d"

    def resolve(self, today: date) -> date:
        if self.absolute is not None:
            return self.absolute
        if self.unit == "d":
            return date.fromordinal(today.toordinal() + self.amount)
        if self.unit == "w":
            return date.fromordinal(today.toordinal() + 7 * self.amount)
        months = self.amount * (12 if self.unit == "y" else 1)
        index = today.year * 12 + today.month - 1 + months
        year, month = divmod(index, 12)
        month += 1
        return date(year, month, min(today.day, calendar.monthrange(year, month)[1]))


# --- the profile ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Resident:
    name: str  # 氏名 as printed (kanji, or Latin for many foreign residents)
    name_kana: str
    name_alternative: str  # 代替文字 name used where the real name has characters outside JIS
    address: str
    address_alternative: str
    birth_date: DateSpec
    sex: str  # ISO 5218: "1", "2", "9"
    my_number: str


@dataclass(frozen=True, slots=True)
class CardSettings:
    atr: bytes | None  # None: the default for the interface
    interface: str  # "contact" or "contactless"
    expiry: DateSpec
    security_code: str
    prefecture: str  # Latin, used in the CRL distribution point DN
    city: str


@dataclass(frozen=True, slots=True)
class PinSettings:
    """The resident's PINs; with ``unset`` the card is new (issuance state) and the four hold no value yet."""

    auth: str | None  # None only when unset
    sign: str | None  # None: never set (no signing certificate), or unset
    card_info: str | None
    juki: str | None
    remaining: tuple[tuple[str, int], ...] = ()  # (PIN name, tries left); missing = untouched
    unset: bool = False

    def remaining_for(self, name: str, maximum: int) -> int:
        return dict(self.remaining).get(name, maximum)


@dataclass(frozen=True, slots=True)
class CertificateSettings:
    ca_generation: pki.CaGeneration
    has_sign_certificate: bool
    auth_valid_from: DateSpec
    auth_valid_until: DateSpec
    sign_valid_from: DateSpec
    sign_valid_until: DateSpec


@dataclass(frozen=True, slots=True)
class TamperSettings:
    """Deliberate faults a verifier must catch."""

    basic4_digest: bool = False  # EF 0003 FF32 does not match EF 0002
    my_number_digest: bool = False  # EF 0003 FF31 does not match EF 0001
    text_signature: bool = False  # EF 0003 FF33 does not verify


@dataclass(frozen=True, slots=True)
class ResidentProfile:
    profile_id: str  # names the card in logs; never personal data
    description: str
    source: str  # the file it came from, for error messages
    resident: Resident
    card: CardSettings
    pins: PinSettings
    certificates: CertificateSettings
    tamper: TamperSettings


# --- validation helpers --------------------------------------------------------------------------------

_SECTIONS = ("resident", "card", "pins", "certificates", "tamper")
_TOP_LEVEL = {"id": "profile id", "description": "free text", **{s: "a table" for s in _SECTIONS}}
_PIN_LIMITS = {
    "auth": 3,
    "sign": 5,
    "card_info": 3,
    "juki": 3,
    "pin_a": UNCONFIRMED_CARD_INFO_TRIES,
    "pin_b": UNCONFIRMED_CARD_INFO_TRIES,
    "birth": UNCONFIRMED_CARD_INFO_TRIES,
}
_KATAKANA = re.compile(r"^[\u30A0-\u30FF\u31F0-\u31FF 　・＝=]+$")
_SIGN_PIN = re.compile(r"^[A-Z0-9]{6,16}$")
_PROFILE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
_DN_TEXT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 .'-]{0,63}$")


class _Section:
    """One TOML table with the file name at hand, so every complaint can say where it is."""

    def __init__(self, source: str, name: str, data: Any, allowed: dict[str, str]) -> None:
        self.source, self.name = source, name
        if not isinstance(data, dict):
            raise ProfileError(source, name, f"expected a table [{name}], got {_type_name(data)}")
        self.data = data
        unknown = sorted(set(data) - set(allowed))
        if unknown:
            known = ", ".join(allowed)
            where = f"in [{name}]" if name else "at the top of the file"
            raise ProfileError(
                source, self.key(unknown[0]), f"unknown key; allowed keys {where} are: {known}"
            )

    def key(self, key: str) -> str:
        return f"{self.name}.{key}" if self.name else key

    def fail(self, key: str, message: str) -> NoReturn:
        raise ProfileError(self.source, self.key(key), message)

    def has(self, key: str) -> bool:
        return key in self.data

    def value(self, key: str, expected: type | tuple[type, ...], what: str, *, required: bool = True) -> Any:
        if key not in self.data:
            if required:
                self.fail(key, f"missing; expected {what}")
            return None
        found = self.data[key]
        # bool is an int in Python but never what a count or a code means
        if not isinstance(found, expected) or (isinstance(found, bool) and bool not in _as_tuple(expected)):
            self.fail(key, f"expected {what}, got {_type_name(found)}")
        return found

    def text(self, key: str, what: str, *, max_length: int = 200) -> str:
        found = self.optional_text(key, what, max_length=max_length)
        if found is None:
            self.fail(key, f"missing; expected {what}")
        return found

    def optional_text(self, key: str, what: str, *, max_length: int = 200) -> str | None:
        found = self.value(key, str, what, required=False)
        if found is None:
            return None
        if not found.strip():
            self.fail(key, f"must not be empty; expected {what}")
        if len(found) > max_length:
            self.fail(key, f"too long ({len(found)} characters, at most {max_length})")
        if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in found):
            self.fail(key, "must not contain control characters or line breaks")
        return found

    def digits(self, key: str, count: int, what: str) -> str:
        if isinstance(self.data.get(key), int) and not isinstance(self.data.get(key), bool):
            self.fail(key, f"write it as a quoted string (leading zeros matter); expected {what}")
        found = self.value(key, str, what)
        if len(found) != count or not found.isascii() or not found.isdigit():
            self.fail(key, f"expected {what} (exactly {count} digits 0-9, got {len(found)} characters)")
        return found

    def date_spec(self, key: str, what: str) -> DateSpec:
        found = self.data.get(key)
        if found is None:
            self.fail(key, f"missing; expected {what}")
        expected = (
            f"{what}: a TOML date like 1990-04-01, or a string relative to today like "
            '"+5y", "-30d", "+6m", "-2w" or "today"'
        )
        if isinstance(found, date) and not hasattr(found, "hour"):
            return DateSpec(absolute=found)
        if isinstance(found, str):
            text = found.strip()
            if text == "today":
                return DateSpec()
            match = _RELATIVE.match(text)
            if match:
                sign = -1 if match.group(1) == "-" else 1
                return DateSpec(amount=sign * int(match.group(2)), unit=match.group(3))
            try:
                return DateSpec(absolute=date.fromisoformat(text))
            except ValueError:
                pass
        self.fail(key, f"expected {expected}; got {_type_name(found)}")


def _as_tuple(expected: type | tuple[type, ...]) -> tuple[type, ...]:
    return expected if isinstance(expected, tuple) else (expected,)


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"text of {len(value)} characters"
    if hasattr(value, "hour"):
        return "a date with a time (write only the date)"
    return f"a {type(value).__name__}"


# --- loading -------------------------------------------------------------------------------------------


def load_profile(path: str | Path) -> ResidentProfile:
    """Read and validate a profile file; raise ``ProfileError`` on anything unexpected."""
    path = Path(path)
    source = str(path)
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ProfileError(source, "", "file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(source, "", f"not valid TOML ({exc})") from None
    except UnicodeDecodeError:
        raise ProfileError(source, "", "not valid UTF-8 text") from None
    return parse_profile(data, source=source, default_id=path.stem)


def parse_profile(
    data: dict[str, Any], *, source: str = "<profile>", default_id: str = "profile"
) -> ResidentProfile:
    """Validate already-parsed TOML data (``load_profile`` without the file)."""
    top = _Section(source, "", data, _TOP_LEVEL)
    profile_id = top.value("id", str, "a short id of lower-case letters, digits and '-'", required=False)
    rule = "1-40 characters of a-z, 0-9 and '-', starting with a letter or digit"
    if profile_id is None:
        if not _PROFILE_ID.match(default_id):
            top.fail("id", f'the file name {default_id!r} cannot be the profile id ({rule}); add id = "..."')
        profile_id = default_id
    if not _PROFILE_ID.match(profile_id):
        top.fail("id", f"expected {rule}")
    description = top.value("description", str, "free text", required=False) or ""
    for section in _SECTIONS:
        if section != "tamper" and section not in data:
            top.fail(section, f"missing table; add a [{section}] section")
    resident = _parse_resident(_Section(source, "resident", data["resident"], _RESIDENT_KEYS))
    card = _parse_card(_Section(source, "card", data["card"], _CARD_KEYS))
    pins = _parse_pins(_Section(source, "pins", data["pins"], _PIN_KEYS))
    certificates = _parse_certificates(
        _Section(source, "certificates", data["certificates"], _CERT_KEYS), pins
    )
    tamper = _parse_tamper(_Section(source, "tamper", data.get("tamper", {}), _TAMPER_KEYS))
    return ResidentProfile(profile_id, description, source, resident, card, pins, certificates, tamper)


_RESIDENT_KEYS = {
    "name": "the name as printed (氏名)",
    "name_kana": "the reading in katakana",
    "name_alternative": "the name in alternative characters (代替文字), default = name",
    "address": "the address (住所)",
    "address_alternative": "the address in alternative characters, default = address",
    "birth_date": "birth date",
    "sex": "1, 2 or 9",
    "my_number": "12-digit My Number",
}


def _parse_resident(section: _Section) -> Resident:
    name = section.text("name", "the name as printed on the card", max_length=60)
    kana = section.text("name_kana", "the reading in katakana", max_length=100)
    if not _KATAKANA.match(kana):
        section.fail("name_kana", "expected katakana only (with spaces, ・ or ＝ between parts)")
    address = section.text("address", "the address as printed on the card", max_length=300)
    name_alt = section.optional_text("name_alternative", "the name in alternative characters", max_length=60)
    address_alt = section.optional_text(
        "address_alternative", "the address in alternative characters", max_length=300
    )
    sex = section.value("sex", int, "1 (male), 2 (female) or 9 (not applicable), as a number")
    if sex not in (1, 2, 9):
        section.fail("sex", "expected 1 (male), 2 (female) or 9 (not applicable)")
    my_number = section.digits("my_number", 12, 'the 12-digit My Number in quotes (a string, with a valid check digit)')
    if my_number_check_digit(my_number[:11]) != int(my_number[11]):
        section.fail(
            "my_number", "the last digit is not the check digit of the first 11 (use a synthetic number)"
        )
    birth = section.date_spec("birth_date", "the birth date")
    return Resident(
        name=name,
        name_kana=kana,
        name_alternative=name_alt or name,
        address=address,
        address_alternative=address_alt or address,
        birth_date=birth,
        sex=str(sex),
        my_number=my_number,
    )


_CARD_KEYS = {
    "atr": '"classic", "newer" or hex bytes',
    "interface": '"contact" or "contactless"',
    "expiry": "card expiry date",
    "security_code": "4-digit security code",
    "prefecture": "prefecture in Latin letters",
    "city": "city in Latin letters",
}


def parse_atr(text: str) -> bytes | None:
    """``"classic"``, ``"newer"`` or hex (spaces allowed); None if it is none of these."""
    lowered = text.strip().lower()
    if lowered == "classic":
        return ATR_CLASSIC
    if lowered == "newer":
        return ATR_NEWER
    try:
        atr = bytes.fromhex(lowered.replace(":", " "))
    except ValueError:
        return None
    if not 2 <= len(atr) <= 33 or atr[0] not in (0x3B, 0x3F):
        return None
    return atr


def _parse_card(section: _Section) -> CardSettings:
    interface = section.value("interface", str, '"contact" or "contactless"', required=False) or "contact"
    if interface not in ("contact", "contactless"):
        section.fail("interface", 'expected "contact" or "contactless"')
    atr_text = section.value("atr", str, '"classic", "newer" or the ATR in hex', required=False)
    atr = None
    if atr_text is not None:
        atr = parse_atr(atr_text)
        if atr is None:
            section.fail("atr", 'expected "classic", "newer" or 2-33 hex bytes starting with 3B or 3F')
    expiry = section.date_spec("expiry", "the card expiry date")
    code = section.digits("security_code", 4, 'the 4-digit security code in quotes, e.g. "0000"')
    prefecture = section.text("prefecture", "the prefecture in Latin letters, e.g. Tokyo", max_length=64)
    city = section.text("city", "the city in Latin letters, e.g. Chiyoda-ku", max_length=64)
    for key, value in (("prefecture", prefecture), ("city", city)):
        if not _DN_TEXT.match(value):
            section.fail(
                key, "expected Latin letters, digits, spaces, '.', ''' or '-' (it goes into a CRL name)"
            )
    return CardSettings(atr, interface, expiry, code, prefecture, city)


_PIN_KEYS = {
    "auth": "4-digit auth PIN",
    "sign": "sign password",
    "card_info": "4-digit card-info PIN",
    "juki": "4-digit 住基 PIN",
    "remaining": "a table of remaining tries",
    "unset": "true: a new card whose holder has not chosen the PINs yet",
}
_RESIDENT_PIN_NAMES = ("auth", "sign", "card_info", "juki")


def _parse_pins(section: _Section) -> PinSettings:
    if section.value("unset", bool, "true or false", required=False):
        return _parse_unset_pins(section)
    auth = section.digits("auth", 4, 'the 4-digit auth PIN in quotes, e.g. "0000"')
    card_info = section.digits("card_info", 4, 'the 4-digit card-info PIN in quotes, e.g. "0000"')
    juki = section.digits("juki", 4, 'the 4-digit 住基 PIN in quotes, e.g. "0000"')
    sign = section.value(
        "sign", str, "the sign password (omit the key for a card without one)", required=False
    )
    if sign is not None and not _SIGN_PIN.match(sign):
        hint = " (upper case only)" if _SIGN_PIN.match(sign.upper()) else ""
        section.fail("sign", f"expected 6 to 16 characters of A-Z and 0-9{hint}")
    remaining: dict[str, int] = {}
    if section.has("remaining"):
        counts = _Section(
            section.source, "pins.remaining", section.data["remaining"], dict.fromkeys(_PIN_LIMITS, "")
        )
        for key, limit in _PIN_LIMITS.items():
            count = counts.value(key, int, f"a whole number from 0 to {limit}", required=False)
            if count is None:
                continue
            if not 0 <= count <= limit:
                counts.fail(key, f"expected a whole number from 0 to {limit} (the PIN's maximum tries)")
            remaining[key] = count
        if "sign" in remaining and sign is None:
            counts.fail("sign", "a remaining count needs pins.sign (this card has no sign password)")
    return PinSettings(auth, sign, card_info, juki, tuple(remaining.items()))


def _parse_unset_pins(section: _Section) -> PinSettings:
    """A new card: the four resident PINs have no value (the holder sets them at pickup) and all their
    tries; only the card-face PINs (PIN A, PIN B, birth) may have a remaining count."""
    for name in _RESIDENT_PIN_NAMES:
        if section.has(name):
            section.fail(name, "remove it: with unset = true the holder has not chosen this PIN yet")
    remaining: dict[str, int] = {}
    if section.has("remaining"):
        face_pins = {name: limit for name, limit in _PIN_LIMITS.items() if name not in _RESIDENT_PIN_NAMES}
        counts = _Section(section.source, "pins.remaining", section.data["remaining"], dict.fromkeys(face_pins, ""))
        for key, limit in face_pins.items():
            count = counts.value(key, int, f"a whole number from 0 to {limit}", required=False)
            if count is None:
                continue
            if not 0 <= count <= limit:
                counts.fail(key, f"expected a whole number from 0 to {limit} (the PIN's maximum tries)")
            remaining[key] = count
    return PinSettings(None, None, None, None, tuple(remaining.items()), unset=True)


_CERT_KEYS = {
    "ca_generation": '"g1" (older) or "g2" (current)',
    "has_sign_certificate": "true or false",
    "auth": "a table with valid_from and valid_until",
    "sign": "a table with valid_from and valid_until",
}
_VALIDITY_KEYS = {"valid_from": "first day", "valid_until": "last day"}


def _parse_certificates(section: _Section, pins: PinSettings) -> CertificateSettings:
    generation = section.value("ca_generation", str, '"g1" or "g2"', required=False) or pki.CURRENT_GENERATION
    if generation not in pki.CA_GENERATIONS:
        section.fail("ca_generation", 'expected "g1" (older CA) or "g2" (current CA)')
    has_sign = section.value("has_sign_certificate", bool, "true or false", required=False)
    if has_sign is None:
        has_sign = pins.unset or pins.sign is not None
    if has_sign and pins.sign is None and not pins.unset:
        section.fail(
            "has_sign_certificate", "is true but pins.sign is missing; set a sign password or use false"
        )
    if not has_sign and pins.sign is not None:
        section.fail(
            "has_sign_certificate", "is false but pins.sign is set; remove pins.sign (it is never set)"
        )
    validity: dict[str, tuple[DateSpec, DateSpec]] = {}
    for kind in ("auth", "sign"):
        if not section.has(kind):
            if kind == "sign" and not has_sign:
                validity[kind] = (DateSpec(), DateSpec())
                continue
            section.fail(kind, f"missing table; add [certificates.{kind}] with valid_from and valid_until")
        table = _Section(section.source, f"certificates.{kind}", section.data[kind], _VALIDITY_KEYS)
        start = table.date_spec("valid_from", "the first day of validity")
        end = table.date_spec("valid_until", "the last day of validity")
        if start.absolute is not None and end.absolute is not None and end.absolute <= start.absolute:
            table.fail("valid_until", "must be after valid_from")
        validity[kind] = (start, end)
    return CertificateSettings(generation, has_sign, *validity["auth"], *validity["sign"])


_TAMPER_KEYS = {
    "basic4_digest": "true: EF 0003's basic-4 digest does not match",
    "my_number_digest": "true: EF 0003's My Number digest does not match",
    "text_signature": "true: EF 0003's signature does not verify",
}


def _parse_tamper(section: _Section) -> TamperSettings:
    flags = {key: section.value(key, bool, "true or false", required=False) or False for key in _TAMPER_KEYS}
    return TamperSettings(**flags)


# --- building ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Dates:
    birth: date
    expiry: date
    auth: tuple[date, date]
    sign: tuple[date, date]


def _resolve_dates(profile: ResidentProfile, today: date) -> _Dates:
    resident, certs = profile.resident, profile.certificates

    def fail(key: str, message: str) -> NoReturn:
        raise ProfileError(profile.source, key, f"{message} (dates resolved for {today.isoformat()})")

    birth = resident.birth_date.resolve(today)
    if birth > today:
        fail("resident.birth_date", "lies in the future")
    expiry = profile.card.expiry.resolve(today)
    if expiry <= birth:
        fail("card.expiry", "must be after the birth date")
    auth = (certs.auth_valid_from.resolve(today), certs.auth_valid_until.resolve(today))
    if auth[1] <= auth[0]:
        fail("certificates.auth.valid_until", "must be after valid_from")
    sign = (certs.sign_valid_from.resolve(today), certs.sign_valid_until.resolve(today))
    if certs.has_sign_certificate and sign[1] <= sign[0]:
        fail("certificates.sign.valid_until", "must be after valid_from")
    return _Dates(birth, expiry, auth, sign)


def _key_label(profile: ResidentProfile, purpose: str) -> str:
    return f"TEST-ONLY card {profile.profile_id} {purpose}"


@dataclass(frozen=True, slots=True)
class _Certificates:
    auth: x509.Certificate
    auth_ca: pki.CertificateAuthority
    sign: x509.Certificate | None
    sign_ca: pki.CertificateAuthority | None


def _issue(profile: ResidentProfile, dates: _Dates) -> _Certificates:
    generation = profile.certificates.ca_generation
    card = profile.card
    auth_ca = pki.certificate_authority("auth", generation)
    auth_from = dates.auth[0].isoformat()
    not_before, not_after = pki.validity_window(*dates.auth)
    auth = pki.issue_auth_certificate(
        auth_ca,
        deterministic_rsa_key(_key_label(profile, "jpki-auth")).public_key(),
        subject_cn=pki.serial_like_cn(profile.profile_id, "auth", auth_from),
        prefecture=card.prefecture,
        city=card.city,
        not_before=not_before,
        not_after=not_after,
        serial=pki.derived_serial(profile.profile_id, "auth", generation, auth_from),
    )
    if not profile.certificates.has_sign_certificate:
        return _Certificates(auth, auth_ca, None, None)
    resident = profile.resident
    sign_ca = pki.certificate_authority("sign", generation)
    sign_from = dates.sign[0].isoformat()
    not_before, not_after = pki.validity_window(*dates.sign)
    sign = pki.issue_sign_certificate(
        sign_ca,
        deterministic_rsa_key(_key_label(profile, "jpki-sign")).public_key(),
        attributes=pki.SignAttributes(
            name=resident.name,
            name_alternative=resident.name_alternative,
            sex=resident.sex,
            birth_date=dates.birth.strftime("%Y%m%d"),
            address=resident.address,
            address_alternative=resident.address_alternative,
        ),
        subject_cn=pki.serial_like_cn(profile.profile_id, "sign", sign_from),
        prefecture=card.prefecture,
        city=card.city,
        not_before=not_before,
        not_after=not_after,
        serial=pki.derived_serial(profile.profile_id, "sign", generation, sign_from),
    )
    return _Certificates(auth, auth_ca, sign, sign_ca)


def _der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


def profile_certificates(profile: ResidentProfile, today: date | None = None) -> dict[str, bytes]:
    """DER of the card's certificates: "auth", "auth_ca", and "sign"/"sign_ca" when the card has them."""
    issued = _issue(profile, _resolve_dates(profile, today or date.today()))
    result = {"auth": _der(issued.auth), "auth_ca": issued.auth_ca.der}
    if issued.sign is not None and issued.sign_ca is not None:
        result["sign"] = _der(issued.sign)
        result["sign_ca"] = issued.sign_ca.der
    return result


def _round_up(length: int, step: int, minimum: int = 0) -> int:
    """An EF size that leaves FF padding after the content, as real EFs do (§2.2)."""
    return max(minimum, (length // step + 1) * step)


def _ef(fid: int, content: bytes, size: int | None = None, read_pins: tuple[int, ...] = ()) -> EfSpec:
    return EfSpec(fid, content, len(content) if size is None else size, read_pins)


def _pin(profile: ResidentProfile, fid: int, name: str, value: str | None, fmt: PinFormat) -> PinSpec:
    limit = _PIN_LIMITS[name]
    remaining = profile.pins.remaining_for(name, limit)
    awaiting = profile.pins.unset and name in _RESIDENT_PIN_NAMES and (
        name != "sign" or profile.certificates.has_sign_certificate)
    return PinSpec(fid, None if value is None else value.encode("ascii"), limit, remaining, fmt, awaiting)


def _jpki_app(profile: ResidentProfile, issued: _Certificates) -> ApplicationSpec:
    auth_der, auth_ca_der = _der(issued.auth), issued.auth_ca.der
    sign_der = _der(issued.sign) if issued.sign is not None else b""
    sign_ca_der = issued.sign_ca.der if issued.sign_ca is not None else b""
    efs = [
        _ef(0x0006, layouts.jpki_token()),
        _ef(0x000A, auth_der, _round_up(len(auth_der), 256, CERT_EF_SIZE)),
        _ef(0x000B, auth_ca_der, _round_up(len(auth_ca_der), 256, CERT_EF_SIZE)),
        _ef(0x0001, sign_der, _round_up(len(sign_der), 256, CERT_EF_SIZE), read_pins=(0x001B,)),
        _ef(0x0002, sign_ca_der, _round_up(len(sign_ca_der), 256, CERT_EF_SIZE)),
    ]
    pins = [
        _pin(profile, 0x0018, "auth", profile.pins.auth, PinFormat.DIGITS4),
        _pin(profile, 0x001B, "sign", profile.pins.sign, PinFormat.SIGN),
    ]
    keys = [KeySpec(0x0017, deterministic_rsa_key(_key_label(profile, "jpki-auth")), 0x0018)]
    if issued.sign is not None:
        keys.append(KeySpec(0x001A, deterministic_rsa_key(_key_label(profile, "jpki-sign")), 0x001B))
    return ApplicationSpec(
        APP_JPKI,
        JPKI_AID,
        efs={ef.fid: ef for ef in efs},
        pins={pin.fid: pin for pin in pins},
        keys={key.fid: key for key in keys},
    )


def _pin_b(profile: ResidentProfile, dates: _Dates) -> str:
    """PIN B: birth YYMMDD + card expiry year + security code (§1.5)."""
    return dates.birth.strftime("%y%m%d") + f"{dates.expiry.year:04d}" + profile.card.security_code


def _text_app(profile: ResidentProfile, dates: _Dates) -> ApplicationSpec:
    resident, tamper = profile.resident, profile.tamper
    my_number_content = layouts.my_number_ef(resident.my_number)
    my_number_padded = EfSpec(0x0001, my_number_content, layouts.MY_NUMBER_EF_SIZE).padded
    basic4 = layouts.basic4_ef(resident.name, resident.address, dates.birth, resident.sex)

    digest_1 = layouts.my_number_digest(my_number_padded)
    if tamper.my_number_digest:  # as if the number had been rewritten after the card was signed
        other = f"{(int(resident.my_number[:11]) + 1) % 10**11:011d}"
        other += str(my_number_check_digit(other))
        digest_1 = layouts.my_number_digest(layouts.my_number_ef(other) + b"\xff\xff")
    digest_2 = layouts.basic4_digest(basic4)
    if tamper.basic4_digest:  # as if the address had been changed after the card was signed
        changed = layouts.basic4_ef(
            resident.name, resident.address + " (before change)", dates.birth, resident.sex
        )
        digest_2 = layouts.basic4_digest(changed)
    signer = pki.cv_signer("text")
    signature = layouts.text_signature_ef(digest_1, digest_2, signer.key)
    if tamper.text_signature:
        signature = signature[:-1] + bytes((signature[-1] ^ 0x01,))
    internal_key = deterministic_rsa_key(_key_label(profile, "card-info-internal-auth"))
    auth_key_ef = layouts.text_auth_key_ef(internal_key.public_key(), signer.key)

    after_pin = (0x0011, 0x0014, 0x0015)
    efs = [
        _ef(0x0001, my_number_content, layouts.MY_NUMBER_EF_SIZE, read_pins=(0x0011, 0x0014)),
        _ef(0x0002, basic4, _round_up(len(basic4), 256, BASIC4_EF_MIN), read_pins=(0x0011, 0x0015)),
        _ef(0x0003, signature, read_pins=after_pin),
        _ef(0x0004, pki.cv_certificate("text")),
        _ef(0x0005, layouts.text_ap_basic_info(TEXT_AP_INFO, signer.key_id), 256),
        _ef(0x0007, auth_key_ef, _round_up(len(auth_key_ef), 256), read_pins=after_pin),
    ]
    pins = [
        _pin(profile, 0x0011, "card_info", profile.pins.card_info, PinFormat.DIGITS4),
        _pin(profile, 0x0014, "pin_a", resident.my_number, PinFormat.DIGITS12),
        _pin(profile, 0x0015, "pin_b", _pin_b(profile, dates), PinFormat.DIGITS14),
    ]
    return ApplicationSpec(APP_TEXT, TEXT_AID, efs={e.fid: e for e in efs}, pins={p.fid: p for p in pins})


def _visual_app(profile: ResidentProfile, dates: _Dates) -> ApplicationSpec:
    resident = profile.resident
    signer = pki.cv_signer("visual")
    public_key = signer.key.public_key()
    seed = f"{profile.profile_id}:face"
    entries = layouts.surface_entries_ef(
        birth_date=dates.birth,
        sex=resident.sex,
        public_key=public_key,
        name_png=images.name_png(resident.name),
        address_png=images.address_png(resident.address),
        face_jp2=images.face_jpeg2000(seed),
        expiry=dates.expiry,
        security_code_png=images.security_code_png(profile.card.security_code),
        signer=signer.key,
    )
    birth = layouts.surface_birth_ef(dates.birth, public_key, signer.key)
    my_number = layouts.surface_my_number_ef(images.my_number_png(resident.my_number), public_key, signer.key)
    info = layouts.surface_ap_basic_info(VISUAL_AP_INFO, signer.key_id, VISUAL_AP_VERSION, profile.card.city)
    efs = [
        _ef(0x0001, birth, _round_up(len(birth), 256), read_pins=(0x0011,)),
        _ef(0x0002, entries, -(-len(entries) // 1024) * 1024 + 1024, read_pins=(0x0013, 0x0012)),
        _ef(0x0003, info, 256),
        _ef(0x0004, pki.cv_certificate("visual")),
        _ef(0x0005, my_number, _round_up(len(my_number), 256), read_pins=(0x0013,)),
    ]
    pins = [
        _pin(profile, 0x0011, "birth", dates.birth.strftime("%y%m%d"), PinFormat.DIGITS6),
        _pin(profile, 0x0012, "pin_b", _pin_b(profile, dates), PinFormat.DIGITS14),
        _pin(profile, 0x0013, "pin_a", resident.my_number, PinFormat.DIGITS12),
    ]
    return ApplicationSpec(APP_VISUAL, VISUAL_AID, efs={e.fid: e for e in efs}, pins={p.fid: p for p in pins})


def _digest(profile: ResidentProfile, purpose: str) -> bytes:
    return hashlib.sha256(f"{purpose}\0{profile.profile_id}".encode()).digest()


def _juki_app(profile: ResidentProfile) -> ApplicationSpec:
    number = "T" + _digest(profile, "manufacture").hex()[:12].upper()
    return ApplicationSpec(
        APP_JUKI,
        JUKI_AID,
        pins={0x001C: _pin(profile, 0x001C, "juki", profile.pins.juki, PinFormat.DIGITS4)},
        records={(1, 1): layouts.juki_record(number)},
    )


def contactless_atr(
    application_data: bytes = b"\x00\x00\x00\x00", protocol_info: bytes = b"\x00\x81\x71"
) -> bytes:
    """The ATR a PC/SC reader synthesises for an ISO 14443-B card (PC/SC part 3): 3B 88 80 01 … TCK.

    UNCONFIRMED values: the card's ATQB application data and protocol info are not public; the structure
    and the TCK (XOR of T0 … last historical byte) follow the PC/SC rule.
    """
    body = b"\x88\x80\x01" + application_data + protocol_info + b"\x00"  # last: MBLI nibble 0
    tck = 0
    for byte in body:
        tck ^= byte
    return b"\x3b" + body + bytes((tck,))


def build_card_image(profile: ResidentProfile, today: date | None = None) -> CardImage:
    """The complete card: JPKI, card-info input support, card surface and 住基 applications."""
    today = today or date.today()
    dates = _resolve_dates(profile, today)
    issued = _issue(profile, dates)
    atr = profile.card.atr
    if atr is None:
        atr = contactless_atr() if profile.card.interface == "contactless" else ATR_CLASSIC
    return CardImage(
        profile_id=profile.profile_id,
        atr=atr,
        interface=profile.card.interface,
        applications=[
            _jpki_app(profile, issued),
            _text_app(profile, dates),
            _visual_app(profile, dates),
            _juki_app(profile),
        ],
        uid=_digest(profile, "uid")[:4],
    )


def load_card_image(path: str | Path, today: date | None = None) -> CardImage:
    """``build_card_image(load_profile(path))``, the one call a demo needs."""
    return build_card_image(load_profile(path), today)


def bundled_profiles() -> list[Path]:
    """The synthetic residents shipped in config/cards, sorted by name."""
    return sorted(BUNDLED_PROFILES.glob("*.toml"))
