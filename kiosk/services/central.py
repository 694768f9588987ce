"""The kiosk's client for the central server: mutual TLS over ``requests``, typed errors, no retries.

Why it looks like this:

* **TLS is always verified** against the CA bundle from the configuration (never ``verify=False``, never
  the system store: the city runs its own CA). ``verify`` is passed on every request, because a
  session-level ``verify`` is silently replaced by ``REQUESTS_CA_BUNDLE`` in requests' environment merge;
  ``trust_env`` is off for the same reason (and so that no proxy or ``.netrc`` from the environment can
  redirect or decorate traffic carrying personal data).
* **No hidden retries**: urllib3 must never re-send a POST on its own. Retrying is the outbox's job,
  with the item's stored idempotency key, so that a lost answer never becomes a second application.
* **Only typed errors leave this module** (``kiosk.services.errors``), each with a sentence for people.
* **Bodies are never logged** — they carry photos, names and numbers. Logs name the route template
  (``/v1/pickups/{id}/handover``), the status and the time taken.
* The ``requests.Session`` can be injected so that the error mapping is unit-tested with a mock;
  everything else is tested against a real HTTPS server with client certificates.
"""

from __future__ import annotations

import logging
import re
import ssl
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter

from contract.application_id import check_application_id
from contract.audit import AuditEntry, entry_from_dict
from contract.crl import normalise_key_id, normalise_serial
from contract.payloads import (
    PayloadInvalid,
    decode_photo_base64,
    is_idempotency_key,
    is_notice_number,
    is_override_id,
    is_pickup_id,
    is_staff_call_id,
    validate_basic4,
    validate_handover,
    validate_override_request,
    validate_staff_call,
)
from contract.renewal import decode_nonce, validate_renewal_request
from drivers.mynumber.basic4 import Basic4
from kiosk import __version__
from kiosk.services.errors import (
    RENEWAL_UNAVAILABLE,
    AuditChainBroken,
    CentralError,
    Conflict,
    GrantRefused,
    RateLimited,
    Rejected,
    RenewalRefused,
    RenewalUnavailable,
    ServerError,
    ServerTimeout,
    ServerUnreachable,
    TlsError,
    is_kiosk_level,
)

log = logging.getLogger(__name__)

# Statuses that say "not now" rather than "never": the request may succeed later unchanged.
_TRANSIENT_4XX = frozenset({408, 425, 429})


@dataclass(frozen=True)
class SubmitResult:
    """The server's receipt for an application (``duplicate``: it had it already under this key)."""

    receipt_id: str
    application_id_masked: str
    status: str
    received_at: str
    duplicate: bool


APPLICATION_STATES = ("received", "in_production", "ready_for_pickup", "picked_up", "refused")
NEXT_STEPS = ("wait_for_notice", "collect_at_counter", "contact_counter")


@dataclass(frozen=True)
class ApplicationStatus:
    """Where an application is, as the resident may see it (``GET /v1/applications/{id}/status``).

    ``status``: received, in_production, ready_for_pickup, picked_up, refused — or ``unknown`` when the server
    knows no application under the id (its 404: a typo, or an application not yet received). ``next_step``:
    wait_for_notice, collect_at_counter, contact_counter or None. Nothing personal: the id comes back masked.
    """

    status: str
    application_id_masked: str
    updated_at: str | None = None
    next_step: str | None = None

    @property
    def known(self) -> bool:
        return self.status != "unknown"


@dataclass(frozen=True)
class Acknowledgement:
    """A write the server accepted (handover); ``receipt_id`` is whatever id the server gave it."""

    http_status: int
    receipt_id: str | None
    duplicate: bool


@dataclass(frozen=True)
class ClerkSession:
    """A signed-in clerk: a bearer token valid at this kiosk only, for minutes (``expires_at``)."""

    token: str = field(repr=False)
    expires_at: str
    username: str
    role: str


@dataclass(frozen=True)
class HandoverGrant:
    """A clerk's single-use authorisation to record one handover of ``pickup_id`` from this kiosk.

    Queue it with the handover (the outbox seals it): unlike the clerk's token it stays valid until
    ``expires_at`` (days, not minutes), so a handover that waits out an outage still lands.
    """

    grant: str = field(repr=False)
    pickup_id: str
    expires_at: str


@dataclass(frozen=True)
class RenewalNonce:
    """A single-use challenge for one renewal (``POST /v1/renewals/nonces``): 32 bytes, this kiosk only.

    The card signs ``contract.renewal.digest_info(renewal_message(nonce, payload))``; the renewal must reach
    the server before ``expires_at`` (aware UTC; default 24 h after issue), through the outbox.
    """

    nonce: bytes = field(repr=False)
    expires_at: datetime


@dataclass(frozen=True)
class RenewalReceipt:
    """The server's receipt for a renewal (``duplicate``: it had it already under this key)."""

    receipt_id: str
    status: str
    received_at: str
    duplicate: bool


@dataclass(frozen=True)
class StaffCallState:
    """The server's view of one staff call: ``open``, ``acknowledged`` or ``cancelled``."""

    call_id: str
    status: str
    duplicate: bool = False


@dataclass(frozen=True)
class AuditAck:
    """The server took an audit batch: ``stored`` new entries, ``duplicates`` it had already (a resend
    after a lost answer), and the head of this kiosk's chain there (``last_seq``, ``last_hash``)."""

    stored: int
    duplicates: int
    last_seq: int
    last_hash: str


PICKUP_STATES = ("ready", "handed_over", "cancelled")


@dataclass(slots=True, repr=False)
class PickupRecord:
    """A card waiting at the counter, as the clerk's lookup returns it (``GET /v1/pickups``).

    ``card_serial`` / ``card_issuer_key_id``: the card the server expects (its auth certificate's serial and
    issuing CA key id; compare with ``is_expected_card``). ``holder_name``, ``birth_date`` (ISO 8601,
    ``YYYY-MM-DD``) and ``photo_jpeg`` (the application photo) are personal data for the clerk's visual
    check: ``wipe()`` them as soon as the check is done, on cancel and at session end
    (``kiosk.core.ports.wipe_if_personal``); None also when the server has none (a pickup created before it
    kept the holder). ``under_15``: no sign PIN; None when the server does not know the birth date.
    """

    pickup_id: str
    application_id_masked: str
    notice_number: str
    status: str
    card_serial: str
    card_issuer_key_id: str
    under_15: bool | None
    holder_name: str | None
    birth_date: str | None
    photo_jpeg: bytes | None
    created_at: str
    handed_over_at: str | None = None

    @property
    def ready(self) -> bool:
        """Still waiting for its holder (not handed over, not cancelled)."""
        return self.status == "ready"

    def is_expected_card(self, auth_cert_serial: str, issuer_key_id: str | None = None) -> bool:
        """The ``card_identity`` check: the card's auth certificate serial (and, when given, its issuer's key
        id) is the one the server expects, compared as the server compares it (``contract.crl``)."""
        try:
            same = normalise_serial(auth_cert_serial) == normalise_serial(self.card_serial)
            if issuer_key_id is not None:
                same = same and normalise_key_id(issuer_key_id) == normalise_key_id(self.card_issuer_key_id)
        except ValueError:
            return False
        return same

    def wipe(self) -> None:
        self.holder_name = None
        self.birth_date = None
        self.photo_jpeg = None

    def __repr__(self) -> str:
        held = "held" if self.holder_name is not None or self.photo_jpeg is not None else "none"
        return f"PickupRecord({self.pickup_id}, {self.status}, personal={held})"


@dataclass(frozen=True)
class StaffCallEntry:
    """One open "call staff" request a clerk sees: which kiosk, and how long it has waited (server clock)."""

    call_id: str
    kiosk_id: str
    status: str
    called_at: str
    received_at: str
    age_seconds: float


@dataclass(frozen=True)
class CertificateStatus:
    """Revocation answer for one JPKI certificate: ``good``, ``revoked`` or ``unknown``."""

    status: str
    details: Mapping[str, Any]


class CentralClient:
    """Talks to the central server for one kiosk. Thread-safe enough for one network worker; not shared."""

    def __init__(
        self,
        base_url: str,
        *,
        ca_bundle: str | Path,
        client_cert: str | Path,
        client_key: str | Path,
        connect_timeout: float = 5.0,
        read_timeout: float = 15.0,
        session: requests.Session | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError(f"the central server URL must be https://HOST[:PORT], got {base_url!r}")
        if not str(ca_bundle):
            raise ValueError("a CA bundle is required: the central server's certificate is always verified")
        self.base_url = base_url.rstrip("/")
        self.ca_bundle = str(ca_bundle)
        self.client_cert = (str(client_cert), str(client_key))
        self.timeout = (connect_timeout, read_timeout)
        self._owns_session = session is None
        self._session = session if session is not None else _new_session()
        _install_redaction()

    @classmethod
    def from_config(cls, config: Any) -> CentralClient:
        """Build from a ``KioskConfig``; paths are resolved relative to the configuration file."""
        from kiosk.config import ConfigError

        server = config.server
        missing = [k for k in ("ca_bundle", "client_cert", "client_key") if not getattr(server, k)]
        if missing:
            where = config.source or "the configuration"
            keys = ", ".join(f"server.{k}" for k in missing)
            raise ConfigError(f"{where}: {keys} must be set to talk to the central server (mutual TLS)")
        return cls(
            server.url,
            ca_bundle=config.resolve(server.ca_bundle),
            client_cert=config.resolve(server.client_cert),
            client_key=config.resolve(server.client_key),
            connect_timeout=config.timeouts.http_connect_seconds,
            read_timeout=config.timeouts.http_read_seconds,
        )

    def close(self) -> None:
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> CentralClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the contract ---------------------------------------------------------------------------------

    def submit_application(self, application: Mapping[str, Any], idempotency_key: str) -> SubmitResult:
        """POST /v1/applications. The same key and body again returns the original receipt (duplicate)."""
        status, body = self._post("/v1/applications", "/v1/applications", application, idempotency_key)
        try:
            return SubmitResult(
                receipt_id=str(body["receipt_id"]),
                application_id_masked=str(body.get("application_id_masked", "")),
                status=str(body.get("status", "")),
                received_at=str(body.get("received_at", "")),
                duplicate=bool(body.get("duplicate", status == 200)),
            )
        except KeyError as exc:
            raise ServerError(status, "the central server's answer has no receipt id") from exc

    def renewal_nonce(self) -> RenewalNonce:
        """POST /v1/renewals/nonces: a nonce for the card to sign, before the resident confirms.

        Errors: ``RateLimited`` (429 too_many_nonces, ``retry_after``), ``RenewalUnavailable`` (503
        renewals_not_configured: the city's server does not take renewals), and the usual typed errors.
        """
        try:
            status, answer = self._send("POST", "/v1/renewals/nonces", "/v1/renewals/nonces", None, {})
        except ServerError as exc:
            unavailable = _renewal_unavailable(exc)
            if unavailable is None:
                raise
            raise unavailable from exc
        try:
            nonce = decode_nonce(answer.get("nonce"))
            expires_at = datetime.fromisoformat(str(answer.get("expires_at")))
        except (PayloadInvalid, ValueError) as exc:
            raise ServerError(status, "the central server gave no usable renewal nonce") from exc
        if expires_at.tzinfo is None:
            raise ServerError(status, "the central server gave a renewal nonce without a time zone")
        return RenewalNonce(nonce=nonce, expires_at=expires_at)

    def submit_renewal(self, body: Mapping[str, Any], idempotency_key: str) -> RenewalReceipt:
        """POST /v1/renewals with ``{nonce, auth_certificate, signature, payload}`` (``contract.renewal``).

        The body's form is checked first (``validate_renewal_request``; ``PayloadInvalid`` is a ValueError and
        nothing is sent). A refusal that no retry can change — the nonce, certificate, signature or payload —
        is ``RenewalRefused`` with the server's code; 503 ``revocation_not_checked`` / ``renewals_not_configured``
        is ``RenewalUnavailable`` (retryable); 401/403 about the kiosk's own certificate stay ``Rejected``.
        """
        validate_renewal_request(body)
        try:
            status, answer = self._post("/v1/renewals", "/v1/renewals", body, idempotency_key)
        except Rejected as exc:
            if is_kiosk_level(exc.status, exc.server_code):
                raise
            raise RenewalRefused(exc.status, exc.server_code, exc.message) from exc
        except ServerError as exc:
            unavailable = _renewal_unavailable(exc)
            if unavailable is None:
                raise
            raise unavailable from exc
        try:
            return RenewalReceipt(
                receipt_id=str(answer["receipt_id"]),
                status=str(answer.get("status", "")),
                received_at=str(answer.get("received_at", "")),
                duplicate=bool(answer.get("duplicate", status == 200)),
            )
        except KeyError as exc:
            raise ServerError(status, "the central server's answer has no receipt id") from exc

    def application_status(self, application_id: str) -> ApplicationStatus:
        """GET /v1/applications/{id}/status: where the resident's application is.

        The id is checked first (``contract.application_id``: exactly 23 ASCII digits, the whole string): an
        ``InvalidApplicationId`` (a ValueError) means nothing was sent. An id the server does not know is an
        answer, ``status="unknown"``; too many unknown ids from this kiosk are ``RateLimited`` (429, with
        ``retry_after``); the rest are the usual typed errors. Logs name the route template, never the id.
        """
        check_application_id(application_id)
        path = f"/v1/applications/{application_id}/status"
        try:
            status, answer = self._send("GET", path, "/v1/applications/{id}/status", None, {})
        except Rejected as exc:
            if exc.status == 404 and exc.server_code == "application_not_found":
                return ApplicationStatus(status="unknown", application_id_masked=_masked(application_id))
            raise
        value, step = answer.get("status"), answer.get("next_step")
        if value not in APPLICATION_STATES or (step is not None and step not in NEXT_STEPS):
            raise ServerError(status, "the central server gave no usable application status")
        masked = answer.get("application_id_masked")
        return ApplicationStatus(
            status=str(value),
            application_id_masked=masked if _is_masked(masked, application_id) else _masked(application_id),
            updated_at=str(answer["updated_at"]) if answer.get("updated_at") else None,
            next_step=step,
        )

    def sign_in_clerk(self, username: str, password: str) -> ClerkSession:
        """POST /v1/clerk/sessions: a clerk signs in at this kiosk. ``Rejected`` 401 ``invalid_credentials``
        covers a wrong password, an unknown name and a locked account alike (the server will not say which);
        ``RateLimited`` (429) when this kiosk has had too many failed sign-ins."""
        body = {"username": username, "password": password}
        status, answer = self._post("/v1/clerk/sessions", "/v1/clerk/sessions", body)
        token = answer.get("token")
        if not isinstance(token, str) or not token:
            raise ServerError(status, "the central server's answer has no clerk token")
        return ClerkSession(token=token, expires_at=str(answer.get("expires_at", "")),
                            username=str(answer.get("username", username)), role=str(answer.get("role", "")))

    def sign_out_clerk(self, clerk_token: str) -> None:
        """DELETE /v1/clerk/sessions/current: the token stops working at once (grants it gave stay valid)."""
        headers = {"Authorization": f"Bearer {clerk_token}"}
        self._send("DELETE", "/v1/clerk/sessions/current", "/v1/clerk/sessions/current", None, headers)

    def authorise_handover(self, pickup_id: str, *, clerk_token: str) -> HandoverGrant:
        """POST /v1/pickups/{pickup_id}/handover-grants with the signed-in clerk's bearer token.

        Call it while the clerk is at the counter; the grant, not the token, goes into the outbox. No
        idempotency key: a retry after a lost answer only leaves an unused grant behind, which expires.
        """
        if not is_pickup_id(pickup_id):
            raise ValueError("a pickup id is P- and 16 upper-case hex digits")
        path = f"/v1/pickups/{quote(pickup_id, safe='')}/handover-grants"
        headers = {"Authorization": f"Bearer {clerk_token}"}
        status, answer = self._send("POST", path, "/v1/pickups/{id}/handover-grants", None, headers)
        grant = answer.get("grant")
        if not isinstance(grant, str) or not grant:
            raise ServerError(status, "the central server's answer has no handover grant")
        return HandoverGrant(grant=grant, pickup_id=str(answer.get("pickup_id", pickup_id)),
                             expires_at=str(answer.get("expires_at", "")))

    def record_handover(
        self,
        pickup_id: str,
        *,
        card_auth_cert_serial: str,
        handed_over_at: str,
        grant: str,
        checks: Mapping[str, str],
        pins_set: Sequence[str],
        collected: Mapping[str, bool],
        override: str | None = None,
        idempotency_key: str,
    ) -> Acknowledgement:
        """POST /v1/pickups/{pickup_id}/handover, authorised by the clerk's single-use handover grant.

        ``checks`` (each of ``contract.payloads.HANDOVER_CHECKS``: passed / failed / not_checked),
        ``pins_set`` and ``collected`` say what happened at the counter; ``override`` is the supervisor's
        override id, needed when ``checks_needing_override(checks)`` is not empty. The body is checked with
        ``contract.payloads.validate_handover`` before it is sent: a malformed one raises ``PayloadInvalid``
        (a ValueError; the outbox marks such an item ``malformed_payload``). A 401/403 that is not about the
        kiosk's certificate is the grant or the override being refused: ``GrantRefused``. 409
        ``checks_failed`` / ``override_mismatch`` / ``card_mismatch`` are ``Conflict``.
        """
        path = f"/v1/pickups/{quote(str(pickup_id), safe='')}/handover"
        body: dict[str, Any] = {
            "card_auth_cert_serial": card_auth_cert_serial,
            "handed_over_at": handed_over_at,
            "grant": grant,
            "checks": dict(checks),
            "pins_set": list(pins_set),
            "collected": dict(collected),
        }
        if override is not None:
            body["override"] = override
        validate_handover(body)
        try:
            status, answer = self._post(path, "/v1/pickups/{id}/handover", body, idempotency_key)
        except Rejected as exc:
            if exc.status in (401, 403) and not is_kiosk_level(exc.status, exc.server_code):
                raise GrantRefused(exc.status, exc.server_code, exc.message) from exc
            raise
        receipt = answer.get("receipt_id") or answer.get("handover_id") or answer.get("id")
        return Acknowledgement(status, str(receipt) if receipt is not None else None,
                               bool(answer.get("duplicate", status == 200)))

    def find_pickup(
        self, *, notice_number: str | None = None, application_id: str | None = None, clerk_token: str
    ) -> PickupRecord:
        """GET /v1/pickups: the pickup for a notice number (交付通知書) or an application id.

        Exactly one of the two (ValueError otherwise, and for one of the wrong form: nothing is sent). None
        matches: ``Rejected`` 404 ``pickup_not_found``; a clerk session that ended: 401 ``token_invalid`` /
        ``token_expired``. The record holds the holder's name, birth date and photo: wipe it when the check
        is done. Logs name the route only; urllib3's request line has the application id redacted.
        """
        if (notice_number is None) == (application_id is None):
            raise ValueError("give exactly one of notice_number or application_id")
        if notice_number is not None:
            if not is_notice_number(notice_number):
                raise ValueError("a notice number is 1-32 characters of A-Z, a-z, 0-9 and '-'")
            query, route = {"notice_number": notice_number}, "/v1/pickups?notice_number"
        else:
            check_application_id(str(application_id))
            query, route = {"application_id": str(application_id)}, "/v1/pickups?application_id"
        headers = {"Authorization": f"Bearer {clerk_token}"}
        status, answer = self._send("GET", f"/v1/pickups?{urlencode(query)}", route, None, headers)
        return _pickup_record(status, answer)

    def check_basic4(self, pickup_id: str, basic4: Basic4 | Mapping[str, str], *, clerk_token: str) -> bool:
        """POST /v1/pickups/{pickup_id}/basic4-check: does the card's basic 4 match the pickup? (The server
        compares keyed hashes and stores nothing; the My Number never leaves the kiosk.)

        ``basic4`` is the card's (``drivers.mynumber.basic4.Basic4``) or ``{name, address, birth_date, sex}``;
        one the server would refuse (``contract.payloads.validate_basic4``, e.g. a sex code it does not
        know) raises ``PayloadInvalid`` and nothing is sent — the check is then not done, not failed.
        """
        if not is_pickup_id(pickup_id):
            raise ValueError("a pickup id is P- and 16 upper-case hex digits")
        if isinstance(basic4, Basic4):
            body: dict[str, Any] = {"name": basic4.name, "address": basic4.address,
                                    "birth_date": basic4.birth_date.strftime("%Y%m%d"), "sex": basic4.sex}
        else:
            body = dict(basic4)
        validate_basic4(body)
        headers = {"Authorization": f"Bearer {clerk_token}"}
        path = f"/v1/pickups/{pickup_id}/basic4-check"
        status, answer = self._post(path, "/v1/pickups/{id}/basic4-check", {"basic4": body}, headers=headers)
        match = answer.get("match")
        if not isinstance(match, bool):
            raise ServerError(status, "the central server gave no usable basic 4 answer")
        return match

    def request_override(
        self, pickup_id: str, failed_checks: Sequence[str], reason: str, *, supervisor_token: str
    ) -> str:
        """POST /v1/pickups/{pickup_id}/overrides with a supervisor's bearer token (signed in at this kiosk).

        ``failed_checks``: exactly ``checks_needing_override`` of the handover's checks; ``reason``: 5-500
        characters (``validate_override_request``; ``PayloadInvalid`` and nothing sent otherwise). Returns the
        override id for the handover (single use, this pickup, this kiosk; queue it with the handover, the
        outbox seals it). A clerk without the role: ``Rejected`` 403 ``supervisor_required``.
        """
        if not is_pickup_id(pickup_id):
            raise ValueError("a pickup id is P- and 16 upper-case hex digits")
        body = {"failed_checks": list(failed_checks), "reason": reason}
        validate_override_request(body)
        headers = {"Authorization": f"Bearer {supervisor_token}"}
        path = f"/v1/pickups/{pickup_id}/overrides"
        status, answer = self._post(path, "/v1/pickups/{id}/overrides", body, headers=headers)
        override = answer.get("override")
        if not isinstance(override, str) or not is_override_id(override):
            raise ServerError(status, "the central server's answer has no override id")
        return override

    def staff_calls(self, *, clerk_token: str) -> list[StaffCallEntry]:
        """GET /v1/staff-calls: the open "call staff" requests of the clerk's office, newest first."""
        headers = {"Authorization": f"Bearer {clerk_token}"}
        status, answer = self._send("GET", "/v1/staff-calls", "/v1/staff-calls", None, headers)
        calls = answer.get("calls")
        if not isinstance(calls, list):
            raise ServerError(status, "the central server gave no usable staff-call list")
        return [_staff_call_entry(status, call) for call in calls]

    def acknowledge_staff_call(self, call_id: str, *, clerk_token: str) -> StaffCallState:
        """POST /v1/staff-calls/{call_id}/ack: a clerk is on the way. ``Conflict`` 409 ``staff_call_cancelled``
        when the resident took the call back; ``Rejected`` 404 for a call this clerk cannot see."""
        if not is_staff_call_id(call_id):
            raise ValueError("a staff call id is a UUID in canonical lower-case form")
        headers = {"Authorization": f"Bearer {clerk_token}"}
        status, answer = self._post(f"/v1/staff-calls/{call_id}/ack", "/v1/staff-calls/{call_id}/ack", {},
                                    headers=headers)
        return _staff_call_state(status, answer, call_id)

    def report_staff_call(self, call_id: str, *, called_at: str) -> StaffCallState:
        """POST /v1/staff-calls: a resident asked for staff. The same ``call_id`` again is the same call.

        The body is only the call's id and time (``contract.payloads.validate_staff_call``): nothing about
        the resident can ride along.
        """
        body = {"call_id": call_id, "called_at": called_at}
        validate_staff_call(body)
        status, answer = self._post("/v1/staff-calls", "/v1/staff-calls", body)
        return _staff_call_state(status, answer, call_id)

    def cancel_staff_call(self, call_id: str) -> StaffCallState:
        """DELETE /v1/staff-calls/{call_id}: the resident no longer needs staff (only this kiosk's calls)."""
        if not is_staff_call_id(call_id):
            raise ValueError("a staff call id is a UUID in canonical lower-case form")
        status, answer = self._send("DELETE", f"/v1/staff-calls/{call_id}", "/v1/staff-calls/{call_id}", None, {})
        return _staff_call_state(status, answer, call_id)

    def heartbeat(
        self,
        *,
        version: str,
        reader_state: str,
        outbox_depth: int,
        outbox_oldest_age_seconds: float | None,
        outbox_dead: int | None = None,
        last_error_code: str | None = None,
        last_error_age_seconds: float | None = None,
    ) -> Mapping[str, Any]:
        """POST /v1/kiosks/heartbeat: no personal data, only the kiosk's health (counts, ages and codes).

        Logged at DEBUG only, success or failure: the sender (``kiosk.services.heartbeat``) logs an outage
        once, not every minute. A disabled kiosk gets ``Rejected`` 403 ``kiosk_disabled`` (``kiosk_refusal``
        says it in words).
        """
        body: dict[str, Any] = {
            "version": version,
            "reader_state": reader_state,
            "outbox_depth": outbox_depth,
            "outbox_oldest_age_seconds": outbox_oldest_age_seconds,
        }
        if outbox_dead is not None:
            body["outbox_dead"] = outbox_dead
        if last_error_code is not None:
            body["last_error_code"] = last_error_code
            body["last_error_age_seconds"] = last_error_age_seconds
        return self._send("POST", "/v1/kiosks/heartbeat", "/v1/kiosks/heartbeat", body, {}, quiet=True)[1]

    def certificate_status(self, issuer_key_id: str, serial: str) -> CertificateStatus:
        """POST /v1/certificate-status: revocation is checked by the city (a legal verifier), not by us."""
        body = {"issuer_key_id": issuer_key_id, "serial": serial}
        status, answer = self._post("/v1/certificate-status", "/v1/certificate-status", body)
        value = answer.get("status")
        if value not in ("good", "revoked", "unknown"):
            raise ServerError(status, "the central server gave no usable certificate status")
        return CertificateStatus(status=value, details=answer)

    def append_audit(self, entries: Sequence[AuditEntry]) -> AuditAck:
        """POST /v1/audit/entries: a batch of this kiosk's audit chain, in order, continuing what the server holds.

        Each entry is re-checked first (``contract.audit.entry_from_dict``; ``AuditInvalid`` is a ValueError
        and nothing is sent). A batch that does not continue the server's chain is ``AuditChainBroken`` (409,
        with the seq and prev_hash the server expects); resending entries it already holds is answered as
        ``duplicates``. No idempotency key: the entries' own seq and hash make a resend harmless.
        """
        body = {"entries": [entry_from_dict(entry.as_dict()).as_dict() for entry in entries]}
        status, answer = self._post("/v1/audit/entries", "/v1/audit/entries", body)
        try:
            last_seq, last_hash = answer["last_seq"], answer["last_hash"]
            if not isinstance(last_seq, int) or not isinstance(last_hash, str):
                raise TypeError("last_seq/last_hash")
            return AuditAck(stored=int(answer.get("stored", 0)), duplicates=int(answer.get("duplicates", 0)),
                            last_seq=last_seq, last_hash=last_hash)
        except (KeyError, TypeError, ValueError) as exc:
            raise ServerError(status, "the central server's answer to an audit batch is not usable") from exc

    def health(self) -> bool:
        """GET /healthz: True when the server answers 2xx; typed errors otherwise."""
        self._send("GET", "/healthz", "/healthz", None, {})
        return True

    # --- plumbing ---------------------------------------------------------------------------------------

    def _post(
        self,
        path: str,
        route: str,
        body: Mapping[str, Any],
        idempotency_key: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        extra = dict(headers or {})
        if idempotency_key is not None:
            if not is_idempotency_key(idempotency_key):
                raise ValueError("an idempotency key is 16-64 characters of A-Z, a-z, 0-9 and '-'")
            extra["Idempotency-Key"] = idempotency_key
        return self._send("POST", path, route, body, extra)

    def _send(
        self, method: str, path: str, route: str, body: Mapping[str, Any] | None, headers: dict[str, str],
        *, quiet: bool = False,
    ) -> tuple[int, dict[str, Any]]:
        """``quiet``: log at DEBUG (a periodic call whose caller reports trouble itself)."""
        level = logging.DEBUG if quiet else logging.INFO
        headers = {"Accept": "application/json", "User-Agent": f"mynumber-kiosk/{__version__}", **headers}
        started = time.monotonic()
        try:
            response = self._session.request(
                method,
                self.base_url + path,
                json=body,
                headers=headers,
                timeout=self.timeout,
                verify=self.ca_bundle,
                cert=self.client_cert,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            error = map_transport_error(exc, self.base_url, self.ca_bundle)
            log.log(logging.DEBUG if quiet else logging.WARNING, "%s %s failed after %.2f s: %s", method, route,
                    time.monotonic() - started, error.code)
            raise error from exc
        except OSError as exc:
            # requests raises a bare OSError when a certificate, key or CA file is missing.
            raise TlsError(f"a TLS file is missing or unreadable ({exc.strerror or exc}); check "
                           "server.ca_bundle, server.client_cert and server.client_key") from exc
        elapsed = time.monotonic() - started
        log.log(level, "%s %s -> %d in %.2f s", method, route, response.status_code, elapsed)
        return response.status_code, _decode(response)


def _renewal_unavailable(exc: ServerError) -> RenewalUnavailable | None:
    """A 503 of the renewal routes, with its reason as the code (None for any other ServerError)."""
    if exc.status == 503 and exc.server_code in RENEWAL_UNAVAILABLE:
        return RenewalUnavailable(exc.status, f"the central server cannot take renewals now ({exc.server_code})",
                                  server_code=exc.server_code)
    return None


def _masked(application_id: str) -> str:
    """All but the last 4 digits hidden, as the server masks them (the screen may show this)."""
    return "*" * (len(application_id) - 4) + application_id[-4:]


def _is_masked(value: object, application_id: str) -> bool:
    """The server's masked id is shown only if it is really masked (never a full id from a faulty server)."""
    return isinstance(value, str) and value == _masked(application_id)


class _RedactApplicationIds(logging.Filter):
    """urllib3 logs request lines (with the path) at DEBUG; a status lookup's path holds an application id.
    Digit runs of an id's length are replaced before any handler sees the record."""

    _ID = re.compile(r"(?<![0-9])[0-9]{23}(?![0-9])")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self._ID.sub("{application_id}", a) if isinstance(a, str) else a
                                for a in record.args)
        if isinstance(record.msg, str):
            record.msg = self._ID.sub("{application_id}", record.msg)
        return True


def _install_redaction() -> None:
    target = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, _RedactApplicationIds) for f in target.filters):
        target.addFilter(_RedactApplicationIds())


def _retry_after(response: requests.Response, document: object) -> float | None:
    """Retry-After as delay-seconds (an HTTP-date is not trusted: kiosk clocks drift), else the body's hint."""
    header = response.headers.get("Retry-After", "").strip()
    if header.isascii() and header.isdigit():  # str.isdigit alone says yes to "²"
        return float(header)
    if isinstance(document, dict) and isinstance(document.get("retry_after_seconds"), int | float):
        return max(0.0, float(document["retry_after_seconds"]))
    return None


def _staff_call_state(status: int, answer: Mapping[str, Any], call_id: str) -> StaffCallState:
    value = answer.get("status")
    if value not in ("open", "acknowledged", "cancelled"):
        raise ServerError(status, "the central server gave no usable staff-call status")
    return StaffCallState(call_id=str(answer.get("call_id", call_id)), status=str(value),
                          duplicate=bool(answer.get("duplicate", False)))


def _pickup_record(status: int, answer: Mapping[str, Any]) -> PickupRecord:
    """The lookup's answer, checked field by field (an answer of the wrong shape is a ServerError)."""
    try:
        card, holder, photo = answer["card"], answer.get("holder"), answer.get("photo_jpeg_base64")
        if answer["status"] not in PICKUP_STATES or not is_pickup_id(answer["pickup_id"]):
            raise ValueError("status or pickup id")
        under_15 = answer.get("under_15")
        if under_15 is not None and not isinstance(under_15, bool):
            raise ValueError("under_15")
        name = birth = None
        if holder is not None:
            name, birth = str(holder["name"]), date.fromisoformat(str(holder["birth_date"])).isoformat()
        return PickupRecord(
            pickup_id=str(answer["pickup_id"]),
            application_id_masked=str(answer.get("application_id_masked", "")),
            notice_number=str(answer.get("notice_number", "")),
            status=str(answer["status"]),
            card_serial=str(card["auth_cert_serial"]),
            card_issuer_key_id=str(card["issuer_key_id"]),
            under_15=under_15,
            holder_name=name,
            birth_date=birth,
            photo_jpeg=None if photo is None else decode_photo_base64(str(photo)),
            created_at=str(answer.get("created_at", "")),
            handed_over_at=str(answer["handed_over_at"]) if answer.get("handed_over_at") else None,
        )
    except (KeyError, TypeError, ValueError) as exc:  # PayloadInvalid is a ValueError
        raise ServerError(status, "the central server gave no usable pickup") from exc


def _staff_call_entry(status: int, call: object) -> StaffCallEntry:
    try:
        if not isinstance(call, Mapping) or not is_staff_call_id(call["call_id"]):
            raise ValueError("call_id")
        if call["status"] not in ("open", "acknowledged", "cancelled"):
            raise ValueError("status")
        age = call.get("age_seconds", 0.0)
        if not isinstance(age, int | float) or isinstance(age, bool):
            raise ValueError("age_seconds")
        return StaffCallEntry(call_id=call["call_id"], kiosk_id=str(call["kiosk_id"]), status=str(call["status"]),
                              called_at=str(call.get("called_at", "")), received_at=str(call.get("received_at", "")),
                              age_seconds=float(age))
    except (KeyError, TypeError, ValueError) as exc:
        raise ServerError(status, "the central server gave no usable staff call") from exc


def _new_session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    adapter = HTTPAdapter(max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def _decode(response: requests.Response) -> dict[str, Any]:
    """The JSON object of a 2xx answer, or the typed error of any other (no body text in messages)."""
    status = response.status_code
    try:
        document = response.json()
    except ValueError:  # includes requests.JSONDecodeError; the body was read inside request()
        document = None
    if status == 204:
        return {}
    if 200 <= status < 300:
        if not isinstance(document, dict):
            raise ServerError(status, f"the central server answered HTTP {status} without the expected JSON")
        return document
    code = message = ""
    if isinstance(document, dict):
        code = str(document.get("error") or "")
        message = str(document.get("message") or "")[:300]
    if 300 <= status < 400:
        raise ServerError(status, f"the central server redirected (HTTP {status}); check server.url")
    if status == 429:
        wait = _retry_after(response, document)
        after = "" if wait is None else f"; try again in {wait:.0f} s"
        raise RateLimited(status, f"the central server is limiting this kiosk (HTTP 429){after}", wait)
    if status in _TRANSIENT_4XX or status >= 500:
        raise ServerError(status, f"the central server could not handle the request now (HTTP {status})",
                          server_code=code)
    message = message or f"HTTP {status}"
    if status == 409 and code == "audit_chain_broken" and isinstance(document, dict):
        raise AuditChainBroken(status, code, message, expected_seq=document.get("expected_seq"),
                               expected_prev_hash=document.get("expected_prev_hash"))
    if status == 409:
        receipt = document.get("receipt") if isinstance(document, dict) else None
        receipt_id = receipt.get("receipt_id") if isinstance(receipt, dict) else None
        raise Conflict(status, code or "conflict", message,
                       receipt_id=receipt_id if isinstance(receipt_id, str) else None)
    raise Rejected(status, code or f"http_{status}", message)


def map_transport_error(exc: BaseException, base_url: str, ca_bundle: str) -> CentralError:
    """Translate a ``requests`` failure into our typed error with a human sentence.

    Order matters: ``SSLError`` and ``ConnectTimeout`` are both ``ConnectionError`` subclasses, and a read
    timeout that strikes while the body is being read surfaces as a plain ``ConnectionError``.
    """
    host = urlsplit(base_url).netloc or base_url
    tls = _find_in_chain(exc, ssl.SSLError)
    if isinstance(exc, requests.exceptions.SSLError) or tls is not None:
        return TlsError(_tls_message(tls, host, ca_bundle))
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return ServerTimeout(f"the central server {host} did not accept a connection in time", "connect")
    if isinstance(exc, requests.exceptions.Timeout) or _find_in_chain(
        exc, urllib3.exceptions.ReadTimeoutError, TimeoutError
    ):
        return ServerTimeout(f"the central server {host} did not answer in time", "read")
    if isinstance(exc, requests.exceptions.ConnectionError):
        return ServerUnreachable(f"the central server {host} cannot be reached (network or server down)")
    return ServerUnreachable(f"the request to the central server {host} failed ({type(exc).__name__})")


def _find_in_chain(exc: BaseException, *types: type[BaseException]) -> Any:
    """Search an exception, its args, causes and contexts (requests nests urllib3 errors in args)."""
    seen: set[int] = set()
    todo: list[Any] = [exc]
    while todo:
        current = todo.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, types):
            return current
        todo.extend([current.__cause__, current.__context__, *current.args])
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            todo.append(reason)
    return None


def _tls_message(error: ssl.SSLError | None, host: str, ca_bundle: str) -> str:
    reason = (getattr(error, "reason", None) or "").upper() if error is not None else ""
    detail = getattr(error, "verify_message", None) or reason.lower().replace("_", " ") or "TLS failure"
    if isinstance(error, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in reason:
        return (f"the central server {host} presented a certificate that the CA bundle {ca_bundle} does "
                f"not vouch for ({detail})")
    if "ALERT" in reason:
        return (f"the central server {host} refused this kiosk's client certificate ({detail}); check "
                "server.client_cert and that the city's CA issued it")
    if isinstance(error, ssl.SSLEOFError | ssl.SSLZeroReturnError):
        # TLS 1.3 checks our certificate after the handshake; a refusal may arrive as a bare close when the
        # alert loses the race against our request body.
        return (f"the central server {host} closed the secure connection abruptly; it may have refused this "
                "kiosk's client certificate (check server.client_cert), or it stopped")
    if "KEY_VALUES_MISMATCH" in reason or "PEM" in reason:
        return f"this kiosk's client certificate or key cannot be used ({detail}); check server.client_key"
    return f"secure connection to the central server {host} failed ({detail})"
