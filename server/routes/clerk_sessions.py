"""``/v1/clerk/sessions``: clerks sign in at a kiosk for a short-lived bearer token, and sign out."""

from __future__ import annotations

from fastapi import APIRouter, Response

from server import security
from server.deps import ClerkDep, ContextDep, KioskDep
from server.schemas import ErrorBody, LoginRequest, TokenOut

router = APIRouter(prefix="/v1/clerk/sessions", tags=["clerks"])


@router.post(
    "",
    status_code=201,
    response_model=TokenOut,
    responses={
        401: {"model": ErrorBody, "description": "invalid_credentials."},
        403: {"model": ErrorBody},
        422: {"model": ErrorBody},
        423: {"model": ErrorBody, "description": "account_locked (with locked_until)."},
    },
    summary="Sign in (token bound to this kiosk)",
)
def sign_in(body: LoginRequest, kiosk: KioskDep, context: ContextDep) -> TokenOut:
    issued = security.login(
        context.sessions,
        context.settings,
        username=body.username,
        password=body.password,
        kiosk_id=kiosk.kiosk_id,
        now=context.clock(),
    )
    return TokenOut(
        token=issued.token,
        expires_at=issued.expires_at,
        username=issued.username,
        role=issued.role,  # type: ignore[arg-type]
    )


@router.delete(
    "/current",
    status_code=204,
    responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody}},
    summary="Sign out (ends the token)",
)
def sign_out(principal: ClerkDep, context: ContextDep) -> Response:
    with context.sessions() as session:
        security.logout(session, principal, now=context.clock())
        session.commit()
    return Response(status_code=204)
