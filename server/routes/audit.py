"""``/v1/audit/entries``: kiosks append their audit chain (mTLS); operators and supervisors export it.

The kiosk sends its chain in order, in batches; the server takes a batch only when it continues exactly
what it holds for that kiosk (``server/audit.py``). The export is JSON Lines or CSV (``contract.audit``'s
formats, which ``kiosk audit verify --file`` checks), streamed page by page.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime

from contract.audit import CSV_MEDIA_TYPE, JSONL_MEDIA_TYPE, KIOSK_ID_PATTERN, csv_header, to_csv, to_jsonl
from server import audit
from server.deps import ClerkDep, ContextDep, KioskDep
from server.errors import ApiError
from server.schemas import AuditAppendResult, AuditBatch, AuditChainBrokenBody, ErrorBody

router = APIRouter(prefix="/v1/audit", tags=["audit"])


class JsonLinesResponse(Response):
    media_type = JSONL_MEDIA_TYPE


@router.post(
    "/entries",
    response_model=AuditAppendResult,
    responses={
        403: {"model": ErrorBody, "description": "audit_other_kiosk, or an unknown or untrusted kiosk certificate."},
        409: {"model": AuditChainBrokenBody,
              "description": "audit_chain_broken: the batch does not continue the stored chain (expected seq/hash)."},
        422: {"model": ErrorBody, "description": "audit_entry_invalid (field named), audit_entry_modified, or an "
                                                 "invalid request."},
        503: {"model": ErrorBody, "description": "audit_busy: a concurrent append for the same kiosk; retry."},
    },
    summary="Append entries of this kiosk's audit chain, in order (kiosk)",
)
def append_entries(body: AuditBatch, kiosk: KioskDep, context: ContextDep) -> Any:
    documents = [entry.model_dump() for entry in body.entries]
    return audit.append_batch(context.sessions, kiosk.kiosk_id, documents, now=context.clock()).as_dict()


@router.get(
    "/entries",
    response_class=JsonLinesResponse,
    responses={
        200: {"description": "One entry per line (JSON Lines), or CSV with a header row; by kiosk, then seq.",
              "content": {JSONL_MEDIA_TYPE: {"schema": {"type": "string"}},
                          CSV_MEDIA_TYPE: {"schema": {"type": "string"}}}},
        401: {"model": ErrorBody, "description": "token_required, token_invalid or token_expired."},
        403: {"model": ErrorBody, "description": "audit_role_required: operators and supervisors only."},
        422: {"model": ErrorBody},
    },
    summary="Export the audit trail for an auditor (operator or supervisor)",
)
def export_entries(
    principal: ClerkDep,
    context: ContextDep,
    kiosk_id: Annotated[str | None, Query(pattern=KIOSK_ID_PATTERN, description="One kiosk's chain only.")] = None,
    since: Annotated[AwareDatetime | None, Query(description="Entries at or after this time.")] = None,
    after_seq: Annotated[int | None, Query(ge=0, description="With kiosk_id: entries after this seq.")] = None,
    export_format: Annotated[Literal["jsonl", "csv"], Query(alias="format")] = "jsonl",
) -> Any:
    if principal.role not in audit.AUDIT_READER_ROLES:
        raise ApiError(403, "audit_role_required", "Only an operator or a supervisor may read the audit trail.")
    if after_seq is not None and kiosk_id is None:
        raise ApiError(422, "validation_error", "after_seq needs kiosk_id (seqs count per kiosk).")
    entries = audit.iter_entries(context.sessions, kiosk_id=kiosk_id, since=since, after_seq=after_seq)

    def lines() -> Iterator[str]:
        if export_format == "csv":
            yield csv_header()
        for entry in entries:
            yield to_csv(entry) if export_format == "csv" else to_jsonl(entry)

    media = CSV_MEDIA_TYPE if export_format == "csv" else JSONL_MEDIA_TYPE
    name = f"audit-{kiosk_id or 'all'}.{export_format}"
    return StreamingResponse(lines(), media_type=f"{media}; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})
