"""Clerk credentials: scrypt password hashes, lockout, and short-lived bearer tokens stored hashed.

- Passwords: scrypt (N=2^15, r=8, p=1, 16-byte per-user salt), stored as ``scrypt$N$r$p$salt$hash``
  so parameters can be raised later without breaking existing hashes.
- Lockout: after ``lockout_threshold`` consecutive failures the account is locked for ``lockout_duration``
  (423), even for the right password, so a kiosk left alone cannot be used to guess.
- Tokens: 256 random bits; the database keeps only their SHA-256, so a database copy holds no usable
  session. They expire after ``clerk_token_lifetime`` and die at logout.
- Unknown user names cost the same scrypt run as known ones (no user-name oracle by timing).
- Password hashing runs outside any database transaction (SQLite serialises writers).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from server.errors import ApiError
from server.models import Clerk, ClerkSession
from server.settings import Settings

SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
_SALT_BYTES = 16
_MAXMEM = 64 * 1024 * 1024
ROLES = ("clerk", "operator")
MIN_PASSWORD_LENGTH = 10


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=32)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, encoded: str) -> bool:
    try:
        scheme, n, r, p, salt, expected = encoded.split("$")
        if scheme != "scrypt":
            return False
        digest = hashlib.scrypt(
            password.encode("utf-8"),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=_MAXMEM,
            dklen=32,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, base64.b64decode(expected))


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against for unknown users, so they cost the same time as known ones."""
    return hash_password(secrets.token_urlsafe(16))


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"a clerk password needs at least {MIN_PASSWORD_LENGTH} characters")


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    expires_at: datetime
    username: str
    role: str


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a valid bearer token belongs to."""

    clerk_id: int
    username: str
    role: str
    session_id: int


def login(
    factory: sessionmaker[Session],
    settings: Settings,
    *,
    username: str,
    password: str,
    kiosk_id: str,
    now: datetime,
) -> IssuedToken:
    """Check a password with lockout; raises ApiError 401 (bad credentials) or 423 (locked)."""
    with factory() as session:
        clerk = session.scalar(select(Clerk).where(Clerk.username == username))
        snapshot = None if clerk is None else (clerk.id, clerk.password_hash, clerk.locked_until, clerk.role)
        session.close()
    if snapshot is None:
        verify_password(password, _dummy_hash())
        raise ApiError(401, "invalid_credentials", "Unknown user name or wrong password.")
    clerk_id, encoded, locked_until, role = snapshot
    if locked_until is not None and locked_until > now:
        raise ApiError(
            423,
            "account_locked",
            f"Too many failed sign-ins; locked until {locked_until.isoformat()}.",
            extra={"locked_until": locked_until.isoformat().replace("+00:00", "Z")},
        )
    good = verify_password(password, encoded)
    with factory() as session, session.begin():
        if not good:
            _record_failure(session, settings, clerk_id=clerk_id, now=now)
        else:
            session.execute(update(Clerk).where(Clerk.id == clerk_id).values(failed_attempts=0, locked_until=None))
            token = secrets.token_urlsafe(32)
            expires_at = now + settings.clerk_token_lifetime
            session.add(
                ClerkSession(
                    token_sha256=token_digest(token),
                    clerk_id=clerk_id,
                    kiosk_id=kiosk_id,
                    created_at=now,
                    expires_at=expires_at,
                )
            )
    if not good:
        raise ApiError(401, "invalid_credentials", "Unknown user name or wrong password.")
    return IssuedToken(token=token, expires_at=expires_at, username=username, role=role)


def _record_failure(session: Session, settings: Settings, *, clerk_id: int, now: datetime) -> None:
    clerk = session.get(Clerk, clerk_id, with_for_update=True)
    if clerk is None:
        return
    if clerk.locked_until is not None and clerk.locked_until <= now:
        clerk.failed_attempts = 0  # the previous lock has run out: start counting again
        clerk.locked_until = None
    clerk.failed_attempts += 1
    if clerk.failed_attempts >= settings.lockout_threshold:
        clerk.locked_until = now + settings.lockout_duration
        clerk.failed_attempts = 0


def authenticate(session: Session, token: str, *, kiosk_id: str, now: datetime) -> Principal:
    """The principal for a bearer token used at the kiosk it was issued at; 401 otherwise.

    Binding the token to the kiosk certificate means a token copied off one kiosk is useless elsewhere.
    """
    row = session.execute(
        select(ClerkSession, Clerk)
        .join(Clerk, Clerk.id == ClerkSession.clerk_id)
        .where(ClerkSession.token_sha256 == token_digest(token))
    ).first()
    if row is None:
        raise ApiError(401, "token_invalid", "The clerk token is unknown or was ended; sign in again.")
    clerk_session, clerk = row
    if clerk_session.revoked_at is not None:
        raise ApiError(401, "token_invalid", "The clerk token is unknown or was ended; sign in again.")
    if clerk_session.kiosk_id != kiosk_id:
        raise ApiError(401, "token_invalid", "This clerk token was issued at another kiosk; sign in here.")
    if clerk_session.expires_at <= now:
        raise ApiError(401, "token_expired", "The clerk session has expired; sign in again.")
    return Principal(clerk_id=clerk.id, username=clerk.username, role=clerk.role, session_id=clerk_session.id)


def logout(session: Session, principal: Principal, *, now: datetime) -> None:
    session.execute(update(ClerkSession).where(ClerkSession.id == principal.session_id).values(revoked_at=now))


def add_clerk(session: Session, *, username: str, password: str, role: str, now: datetime) -> Clerk:
    """Create a clerk (CLI and tests). Hash first: the caller should not hold a transaction open."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    check_password_policy(password)
    clerk = Clerk(
        username=username,
        password_hash=hash_password(password),
        role=role,
        failed_attempts=0,
        created_at=now,
    )
    session.add(clerk)
    return clerk
