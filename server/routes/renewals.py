"""``/v1/renewals``: a renewal application made with the resident's existing card, signed by its auth key.

The kiosk asks for a nonce (``POST /v1/renewals/nonces``: 32 random bytes for this kiosk; the database keeps
only their SHA-256), lets the card sign ``digest_info(renewal_message(nonce, payload))`` after the auth PIN
(``contract/renewal.py``), and sends nonce, auth certificate, signature and payload through its outbox
(``POST /v1/renewals`` with an Idempotency-Key). A renewal is stored only when every rule holds; each refusal
has its own code:

====================================  ======  =================================================================
rule                                  status  code
====================================  ======  =================================================================
renewals configured (JPKI auth CAs)    503    renewals_not_configured
payload fits ``RenewalPayload``        422    payload_invalid (``fields`` say where; never the values)
the nonce was issued                   403    nonce_unknown
… to this kiosk                        403    nonce_other_kiosk
… and has not expired (24 h)           403    nonce_expired
… and was not used                     409    nonce_used
certificate readable                   422    certificate_malformed
an auth certificate (KU, EKU, RSA)     403    certificate_not_for_auth
chains to a configured auth CA         403    certificate_untrusted   (the CA valid at the nonce's issue time)
valid at the nonce's issue time        403    certificate_expired / certificate_not_yet_valid
in its renewal window then             422    not_in_renewal_window   (not_after − 3 months ≤ issued_at)
signature over the message             403    signature_invalid
photo (contract.photo)                 422    photo_* codes
not revoked (server's CRLs)            403    certificate_revoked
revocation known                       503    revocation_not_checked  (no current CRL for the CA: never "good")
====================================  ======  =================================================================

Exactly once: the nonce is marked used in the same transaction that stores the renewal and its idempotency
record, under a row lock (and ``renewals.nonce_id`` is unique). A retry with the same Idempotency-Key and body
is answered with the first answer (200, ``duplicate: true``) before the nonce is looked at, so an answer lost
on the way still reaches the kiosk; any other request with a used nonce gets 409 ``nonce_used``.

Validity and the renewal window are judged at the nonce's issue time (the resident was at the kiosk then; the
signed application may wait in the outbox overnight); revocation is judged now, with the CRLs the city has.
Nothing about the card holder is logged or stored in clear: the auth certificate carries no name, and only
its serial and issuing CA key are kept as columns (not its expiry: JPKI certificates end on a birthday);
everything else is sealed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contract.payloads import PayloadInvalid, effective_options
from contract.photo import PhotoRejected, validate_photo
from contract.renewal import (
    MAX_CERTIFICATE_BASE64,
    MAX_SIGNATURE_BASE64,
    canonical_payload,
    decode_base64_field,
    decode_nonce,
    encode_nonce,
    renewal_message,
)
from server import idempotency, renewal_checks, revocation
from server.deps import ContextDep, IdempotencyKey, KioskDep, ServerContext
from server.errors import ApiError, validation_errors
from server.identifiers import decode_photo, new_receipt_id
from server.models import Renewal, RenewalNonce
from server.ratelimit import retry_after_header
from server.schemas import ErrorBody, RenewalCreate, RenewalNonceOut, RenewalPayload, RenewalReceipt

router = APIRouter(prefix="/v1/renewals", tags=["renewals"])

SCOPE = "renewals"

_NOT_CONFIGURED: dict[str, Any] = {
    "model": ErrorBody,
    "description": "renewals_not_configured: no JPKI authentication CA is configured on this server.",
}
_NONCE_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorBody, "description": "Unknown or untrusted kiosk certificate."},
    429: {
        "model": ErrorBody,
        "description": "too_many_nonces: this kiosk asked for too many nonces; `retry_after_seconds` and the "
        "Retry-After header say when the next one is possible.",
        "headers": {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}},
    },
    503: _NOT_CONFIGURED,
}
_SUBMIT_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {
        "model": ErrorBody,
        "description": "Kiosk not accepted (kiosk_*), or the renewal is refused: nonce_unknown, nonce_other_kiosk, "
        "nonce_expired, certificate_not_for_auth, certificate_untrusted, certificate_expired, "
        "certificate_not_yet_valid, signature_invalid, certificate_revoked. Sending it again will not help.",
    },
    409: {"model": ErrorBody, "description": "nonce_used (another request used this nonce) or idempotency_key_reused."},
    413: {"model": ErrorBody, "description": "Body too large."},
    422: {
        "model": ErrorBody,
        "description": "validation_error (the body), payload_invalid (the payload; `fields`), certificate_malformed, "
        "not_in_renewal_window, photo_* codes.",
    },
    503: {
        "model": ErrorBody,
        "description": "revocation_not_checked (no current CRL for the certificate's CA: try again after the "
        "city imported one) or renewals_not_configured.",
    },
}


def nonce_digest(nonce: bytes) -> str:
    return hashlib.sha256(nonce).hexdigest()


def _configured(context: ServerContext) -> None:
    if not context.jpki_auth_cas.certificates:
        raise ApiError(
            503, "renewals_not_configured", "This server has no JPKI authentication CA configured for renewals."
        )


@router.post(
    "/nonces",
    status_code=201,
    response_model=RenewalNonceOut,
    responses=_NONCE_ERRORS,
    summary="A single-use nonce for one renewal, for the card to sign (kiosk)",
)
def issue_nonce(kiosk: KioskDep, context: ContextDep) -> Any:
    """32 random bytes (base64url), valid for this kiosk until ``expires_at`` (default 24 h), used once."""
    _configured(context)
    now = context.clock()
    wait = context.nonces.take(kiosk.kiosk_id, now)
    if wait is not None:
        after = retry_after_header(wait)
        raise ApiError(
            429,
            "too_many_nonces",
            f"This kiosk asked for too many renewal nonces; the next one is possible in {after} s.",
            extra={"retry_after_seconds": int(after)},
            headers={"Retry-After": after},
        )
    nonce = secrets.token_bytes(32)
    expires_at = now + context.settings.renewal_nonce_lifetime
    with context.sessions() as session:
        row = RenewalNonce(
            nonce_sha256=nonce_digest(nonce), kiosk_id=kiosk.kiosk_id, issued_at=now, expires_at=expires_at
        )
        session.add(row)
        session.commit()
    answer = RenewalNonceOut(nonce=encode_nonce(nonce), expires_at=expires_at).model_dump(mode="json")
    return JSONResponse(answer, status_code=201)


def _replay(session: Session, *, kiosk_id: str, key: str, body_hash: str) -> JSONResponse | None:
    replay = idempotency.find(session, kiosk_id=kiosk_id, scope=SCOPE, key=key, body_hash=body_hash)
    if replay is None:
        return None
    return JSONResponse({**replay.body, "duplicate": True}, status_code=200)


def _payload(raw: dict[str, Any]) -> RenewalPayload:
    try:
        model = RenewalPayload.model_validate(raw)
        canonical_payload(raw)  # a lone surrogate cannot be hashed as UTF-8: refuse it here, by name
    except ValidationError as exc:
        fields = [{**f, "field": "payload." + f["field"]} for f in validation_errors(exc.errors())]
        summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:5])
        raise ApiError(
            422, "payload_invalid", f"The payload is invalid — {summary}", extra={"fields": fields}
        ) from None
    except PayloadInvalid as exc:
        raise _invalid("payload_invalid", exc) from None
    return model


def _invalid(code: str, exc: PayloadInvalid) -> ApiError:
    return ApiError(422, code, str(exc), extra={"fields": [{"field": exc.field, "message": exc.problem}]})


def _nonce_refusal(row: RenewalNonce | None, *, kiosk_id: str, now: datetime) -> ApiError | None:
    if row is None:
        return ApiError(403, "nonce_unknown", "This server never issued this nonce; ask for a new one.")
    if row.kiosk_id != kiosk_id:
        return ApiError(403, "nonce_other_kiosk", "This nonce was issued to another kiosk.")
    if row.used_at is not None:
        return ApiError(409, "nonce_used", "This nonce was already used for a renewal.")
    if row.expires_at <= now:
        return ApiError(403, "nonce_expired", "This nonce has expired; the resident must sign again with a new one.")
    return None


def _find_nonce(session: Session, digest: str, *, for_update: bool = False) -> RenewalNonce | None:
    query = select(RenewalNonce).where(RenewalNonce.nonce_sha256 == digest)
    return session.scalar(query.with_for_update() if for_update else query)


def _check_revocation(session: Session, checked: renewal_checks.CheckedCertificate, now: datetime) -> None:
    status = revocation.certificate_status(
        session, issuer_key_id=checked.issuer_key_id, serial=checked.serial_hex, issuer_dn=checked.issuer_dn, now=now
    )
    if status.status == "revoked":
        raise ApiError(403, "certificate_revoked", "The certificate is revoked (the city's CRL lists it).")
    if status.status != "good":
        raise ApiError(
            503,
            "revocation_not_checked",
            "The certificate's revocation status is unknown (no current CRL for its CA); try again later.",
        )


def _seal_json(context: ServerContext, value: Any, purpose: str) -> bytes:
    return context.keys.seal(json.dumps(value, ensure_ascii=False).encode("utf-8"), purpose=purpose)


@router.post(
    "",
    status_code=201,
    response_model=RenewalReceipt,
    responses={200: {"model": RenewalReceipt, "description": "A retry: the original answer."}, **_SUBMIT_ERRORS},
    summary="Submit a renewal application signed by the resident's card (kiosk)",
)
def submit_renewal(body: RenewalCreate, idempotency_key: IdempotencyKey, kiosk: KioskDep, context: ContextDep) -> Any:
    """201 ``{receipt_id, status: "received", received_at, duplicate: false}``; 200 with the same for a retry."""
    _configured(context)
    body_hash = idempotency.request_hash(body)
    with context.sessions() as session:
        replay = _replay(session, kiosk_id=kiosk.kiosk_id, key=idempotency_key, body_hash=body_hash)
        session.close()
    if replay is not None:
        return replay

    payload = _payload(body.payload)
    try:
        nonce = decode_nonce(body.nonce)  # the schema's pattern holds; this adds the canonical-spelling check
    except PayloadInvalid as exc:
        raise _invalid("validation_error", exc) from None
    digest = nonce_digest(nonce)
    now = context.clock()
    with context.sessions() as session:
        row = _find_nonce(session, digest)
        refusal = _nonce_refusal(row, kiosk_id=kiosk.kiosk_id, now=now)
        issued_at = row.issued_at if row is not None else now
        session.close()
    if refusal is not None:
        raise refusal

    try:
        certificate_der = decode_base64_field(body.auth_certificate, "auth_certificate", maximum=MAX_CERTIFICATE_BASE64)
        signature = decode_base64_field(body.signature, "signature", maximum=MAX_SIGNATURE_BASE64)
    except PayloadInvalid as exc:
        raise _invalid("validation_error", exc) from None
    checked = renewal_checks.check_certificate(
        renewal_checks.parse(certificate_der),
        context.jpki_auth_cas,
        at=issued_at,
        window_months=context.settings.renewal_window_months,
    )
    message = renewal_message(nonce, body.payload)
    renewal_checks.verify_signature(checked, signature, message)

    photo = decode_photo(payload.photo_jpeg_base64)
    try:
        validate_photo(photo, content=context.settings.photo_face_checks)
    except PhotoRejected as exc:
        raise ApiError(422, exc.code, exc.message) from exc

    keys = context.keys
    contact = None if payload.contact is None else payload.contact.model_dump(exclude_none=True)
    options = effective_options(payload.options.model_dump())  # type: ignore[arg-type]
    evidence = {
        "nonce": body.nonce,
        "payload_sha256": hashlib.sha256(canonical_payload(body.payload)).hexdigest(),
        "auth_certificate": body.auth_certificate,
        "signature": base64.b64encode(signature).decode("ascii"),
    }
    renewal = Renewal(
        receipt_id=new_receipt_id(),
        kiosk_id=kiosk.kiosk_id,
        certificate_serial=checked.serial_hex,
        certificate_issuer_key_id=checked.issuer_key_id,
        photo_sealed=keys.seal(photo, purpose="renewal-photo"),
        contact_sealed=None if not contact else _seal_json(context, contact, "contact"),
        options_sealed=_seal_json(context, options, "options"),
        evidence_sealed=_seal_json(context, evidence, "renewal-evidence"),
        status="received",
        submitted_at=payload.submitted_at,
        received_at=now,
        updated_at=now,
    )
    receipt = RenewalReceipt(
        receipt_id=renewal.receipt_id, status="received", received_at=now, duplicate=False
    ).model_dump(mode="json")
    return _store(
        context,
        renewal,
        receipt,
        digest=digest,
        kiosk_id=kiosk.kiosk_id,
        key=idempotency_key,
        body_hash=body_hash,
        checked=checked,
        now=now,
    )


def _store(
    context: ServerContext,
    renewal: Renewal,
    receipt: dict[str, Any],
    *,
    digest: str,
    kiosk_id: str,
    key: str,
    body_hash: str,
    checked: renewal_checks.CheckedCertificate,
    now: datetime,
) -> JSONResponse:
    """One transaction: lock the nonce, replay or refuse a used one, check revocation, store, use the nonce."""
    with context.sessions() as session:
        try:
            # Lock first, then look for an earlier answer: a concurrent request with the same key that got
            # the lock first has committed its answer by the time we hold the lock.
            row = _find_nonce(session, digest, for_update=True)
            replay = _replay(session, kiosk_id=kiosk_id, key=key, body_hash=body_hash)
            if replay is not None:
                return replay
            refusal = _nonce_refusal(row, kiosk_id=kiosk_id, now=now)
            if refusal is not None or row is None:
                raise refusal or ApiError(403, "nonce_unknown", "This server never issued this nonce.")
            _check_revocation(session, checked, now)
            row.used_at = now
            renewal.nonce_id = row.id
            session.add(renewal)
            idempotency.remember(
                session,
                kiosk_id=kiosk_id,
                scope=SCOPE,
                key=key,
                body_hash=body_hash,
                status_code=201,
                body=receipt,
                now=now,
            )
            session.commit()
        except IntegrityError:
            session.rollback()  # lost a race (the same key, or the same nonce): the winner's answer decides
            replay = _replay(session, kiosk_id=kiosk_id, key=key, body_hash=body_hash)
            if replay is not None:
                return replay
            raise ApiError(409, "nonce_used", "This nonce was already used for a renewal.") from None
    return JSONResponse(receipt, status_code=201)
