"""``POST /v1/certificate-status``: revocation status of a card certificate, from imported CRLs (kiosk)."""

from __future__ import annotations

from fastapi import APIRouter

from server import revocation
from server.deps import ContextDep, KioskDep, ReadSessionDep
from server.schemas import CertificateStatusOut, CertificateStatusRequest, ErrorBody

router = APIRouter(prefix="/v1/certificate-status", tags=["revocation"])


@router.post(
    "",
    response_model=CertificateStatusOut,
    response_model_exclude_none=True,
    responses={403: {"model": ErrorBody}, 422: {"model": ErrorBody}},
    summary="Is this certificate revoked? good | revoked | unknown",
)
def certificate_status(
    body: CertificateStatusRequest, _kiosk: KioskDep, context: ContextDep, session: ReadSessionDep
) -> CertificateStatusOut:
    """``unknown`` (no CRL for the issuer, or the CRL is past nextUpdate) must be read as "not verified"."""
    answer = revocation.certificate_status(
        session,
        issuer_key_id=body.issuer_key_id,
        serial=body.serial,
        issuer_dn=body.issuer_dn,
        now=context.clock(),
    )
    session.close()
    return CertificateStatusOut(
        status=answer.status,
        reason=answer.reason,
        revoked_at=answer.revoked_at,
        crl_this_update=answer.crl_this_update,
        crl_next_update=answer.crl_next_update,
    )
