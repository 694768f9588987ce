"""Clerk credentials: scrypt password hashes, lockout, and short-lived bearer tokens stored hashed.

- Passwords: scrypt (N=2^15, r=8, p=1, 16-byte per-user salt), stored as ``scrypt$N$r$p$salt$hash``
  so parameters can be raised later without breaking existing hashes.
- Lockout: after ``lockout_threshold`` consecutive failures the account is locked for ``lockout_duration``,
  even for the right password, so a kiosk left alone cannot be used to guess; every attempt is counted
  atomically before its password is checked. A locked account answers exactly like an unknown user name.
- Kiosk limit: ``kiosk_sign_in_failures`` failures per ``kiosk_sign_in_window`` at one kiosk, across all
  user names (429), against one password tried on many accounts.
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

from sqlalchemy import and_, case, literal, null, or_, select, true, update
from sqlalchemy.orm import Session, sessionmaker

from server.errors import ApiError
from server.models import Clerk, ClerkSession, Kiosk, UTCDateTime
from server.settings import Settings

SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
_SALT_BYTES = 16
_MAXMEM = 64 * 1024 * 1024
ROLES = ("clerk", "supervisor", "operator")
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


_REFUSED = (
    "Sign-in refused: unknown user name or wrong password, or the account is locked for a while after too "
    "many failures. Check the user name and password, or ask a supervisor."
)


def _refused() -> ApiError:
    return ApiError(401, "invalid_credentials", _REFUSED)


def login(
    factory: sessionmaker[Session],
    settings: Settings,
    *,
    username: str,
    password: str,
    kiosk_id: str,
    now: datetime,
) -> IssuedToken:
    """Check a password against both limits; raises ApiError 401 (refused) or 429 (this kiosk is limited).

    Every attempt is counted *before* its password is checked, in one conditional UPDATE (atomic on SQLite
    and PostgreSQL): parallel attempts can no longer all read "not locked yet" and then all be checked
    (36 of 40 parallel guesses were). A success takes its attempt back. A locked account and an unknown
    user name cost the same scrypt run and get the same answer, so neither reveals that a user name exists.
    """
    if not _claim_kiosk_attempt(factory, settings, kiosk_id=kiosk_id, now=now):
        raise ApiError(
            429,
            "sign_in_limited",
            "Too many failed sign-ins at this kiosk; wait a few minutes or ask a supervisor.",
            headers={"Retry-After": str(int(settings.kiosk_sign_in_window.total_seconds()))},
        )
    with factory() as session:
        row = session.execute(
            select(Clerk.id, Clerk.password_hash, Clerk.role).where(Clerk.username == username)
        ).first()
        session.close()
    claim = None if row is None else _claim_clerk_attempt(factory, settings, clerk_id=row.id, now=now)
    if row is None or claim is None:
        verify_password(password, _dummy_hash())
        raise _refused()
    if not verify_password(password, row.password_hash):
        raise _refused()  # the attempt stays counted; the claim that reached the threshold set the lock
    with factory() as session, session.begin():
        # Only a success that is still allowed resets the count: a lock set meanwhile by a parallel failure
        # stands, unless it was this very attempt's claim that set it.
        still_allowed = Clerk.locked_until.is_(None) if claim < settings.lockout_threshold else true()
        reset = session.execute(
            update(Clerk).where(Clerk.id == row.id, still_allowed).values(failed_attempts=0, locked_until=None)
        )
        if reset.rowcount != 1:  # type: ignore[attr-defined]
            raise _refused()
        session.execute(
            update(Kiosk)
            .where(Kiosk.kiosk_id == kiosk_id, Kiosk.sign_in_failures > 0)
            .values(sign_in_failures=Kiosk.sign_in_failures - 1)
        )
        token = secrets.token_urlsafe(32)
        expires_at = now + settings.clerk_token_lifetime
        session.add(
            ClerkSession(
                token_sha256=token_digest(token),
                clerk_id=row.id,
                kiosk_id=kiosk_id,
                created_at=now,
                expires_at=expires_at,
            )
        )
    return IssuedToken(token=token, expires_at=expires_at, username=username, role=row.role)


def _claim_kiosk_attempt(factory: sessionmaker[Session], settings: Settings, *, kiosk_id: str, now: datetime) -> bool:
    """Count one attempt at this kiosk if its window allows one more; False when the kiosk is limited."""
    floor = now - settings.kiosk_sign_in_window
    window_over = or_(Kiosk.sign_in_window_start.is_(None), Kiosk.sign_in_window_start <= floor)
    allowed = or_(window_over, Kiosk.sign_in_failures < settings.kiosk_sign_in_failures)
    with factory() as session, session.begin():
        result = session.execute(
            update(Kiosk)
            .where(Kiosk.kiosk_id == kiosk_id, allowed)
            .values(
                sign_in_failures=case((window_over, 1), else_=Kiosk.sign_in_failures + 1),
                sign_in_window_start=case((window_over, literal(now, UTCDateTime())), else_=Kiosk.sign_in_window_start),
            )
        )
        return result.rowcount == 1  # type: ignore[attr-defined]


def _claim_clerk_attempt(
    factory: sessionmaker[Session], settings: Settings, *, clerk_id: int, now: datetime
) -> int | None:
    """Count one attempt for this account and return the count, or None when it is locked (or its last
    allowed attempts are being checked right now). The claim that reaches the threshold sets the lock at
    once, so a server that dies mid-check leaves a lock that runs out, not an account stuck for ever."""
    lock_over = and_(Clerk.locked_until.is_not(None), Clerk.locked_until <= now)
    allowed = or_(lock_over, and_(Clerk.locked_until.is_(None), Clerk.failed_attempts < settings.lockout_threshold))
    counted = case((lock_over, 1), else_=Clerk.failed_attempts + 1)
    until = literal(now + settings.lockout_duration, UTCDateTime())
    locks = case((counted >= settings.lockout_threshold, until), else_=null())
    with factory() as session, session.begin():
        return session.execute(
            update(Clerk)
            .where(Clerk.id == clerk_id, allowed)
            .values(failed_attempts=counted, locked_until=locks)
            .returning(Clerk.failed_attempts)
        ).scalar()


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
