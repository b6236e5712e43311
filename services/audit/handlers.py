"""Audit HTTP API: checkpoints, inclusion and consistency proofs, gaps, rejections, the export.

Read-only and public on purpose: a transparency log is checked by whoever holds a checkpoint.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from services.audit import state, store
from services.audit.exportfile import load_record
from services.audit.service import AuditService
from services.kit.errors import NotFound, Refused
from services.kit.http import service_app
from services.kit.rows import stored_utc

router = APIRouter(prefix="/api", tags=["audit"])
PAGE = Path(__file__).parent / "web" / "index.html"


async def _service(request: Request) -> AuditService:
    return request.app.state.service


ServiceDep = Annotated[AuditService, Depends(_service)]


def _checkpoint(row: Any) -> dict[str, Any]:
    return {"number": row.number, "tree_size": row.tree_size, "root_hash": row.root_hash,
            "timestamp": stored_utc(row.timestamp), "signed": load_record(bytes(row.raw)),
            "message": base64.b64encode(bytes(row.raw)).decode()}


@router.get("/checkpoints")
async def checkpoints(svc: ServiceDep, after: Annotated[int, Query(ge=0)] = 0,
                      limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
    """Signed checkpoints in order: `message` is the exact bytes published on rx.checkpoints (base64)."""
    async with svc.db.read() as s:
        return [_checkpoint(r) for r in await store.checkpoint_rows(s, after, limit)]


@router.get("/checkpoints/latest")
async def latest(svc: ServiceDep) -> dict[str, Any]:
    """The newest signed tree head."""
    async with svc.db.read() as s:
        row = await store.latest_checkpoint(s)
    if row is None:
        raise NotFound("checkpoint")
    return _checkpoint(row)


async def _size(svc: AuditService, size: int | None) -> int:
    async with svc.db.read() as s:
        row = await store.latest_checkpoint(s)
    covered = row.tree_size if row else 0
    if size is None:
        size = covered
    if not 0 < size <= covered:
        raise Refused("not_checkpointed", f"tree size {size} is not covered by a checkpoint (latest: {covered})")
    return size


@router.get("/proofs/inclusion")
async def inclusion(svc: ServiceDep, event_id: Annotated[str | None, Query(max_length=64)] = None,
                    seq: Annotated[int | None, Query(ge=0)] = None,
                    tree_size: Annotated[int | None, Query(ge=1)] = None) -> dict[str, Any]:
    """RFC 6962 audit path of an event's entry (by event_id, or seq for a rejected message)."""
    ledger = await svc.loaded()
    size = await _size(svc, tree_size)
    if seq is None:
        if event_id is None:
            raise Refused("missing", "give event_id or seq")
        async with svc.db.read() as s:
            seq = await store.seq_of(s, event_id)
        if seq is None:
            raise NotFound(f"event {event_id}")
    if seq >= size:
        raise Refused("not_yet_covered", f"entry {seq} is not in the tree of size {size}")
    async with svc.db.read() as s:
        row = (await store.ledger_rows(s, seq - 1, 1))[0]
    return {"event_id": event_id, "seq": seq, "tree_size": size, "entry": bytes(row.line).decode(),
            "leaf_hash": bytes(row.leaf).hex(), "root_hash": ledger.tree.root(size).hex(),
            "audit_path": [h.hex() for h in ledger.tree.inclusion_proof(seq, size)]}


@router.get("/proofs/consistency")
async def consistency(svc: ServiceDep, first: Annotated[int, Query(ge=1)],
                      second: Annotated[int, Query(ge=1)]) -> dict[str, Any]:
    """RFC 6962 proof that the tree of size first is a prefix of the tree of size second."""
    ledger = await svc.loaded()
    second = await _size(svc, second)
    if first > second:
        raise Refused("bad_range", "first must not exceed second")
    return {"first": first, "second": second, "first_root": ledger.tree.root(first).hex(),
            "second_root": ledger.tree.root(second).hex(),
            "proof": [h.hex() for h in ledger.tree.consistency_proof(first, second)]}


@router.get("/gaps")
async def gaps(svc: ServiceDep) -> dict[str, Any]:
    """producer_seq numbers still missing below the highest seen, per producer (lost messages)."""
    detector = (await svc.loaded()).gaps
    open_gaps = detector.open_gaps()
    return {"open_gaps": open_gaps, "missing": sum(len(v) for v in open_gaps.values()),
            "last_seen": {p: detector.last_seen(p) for p in sorted(detector._marks)}}


@router.get("/rejections")
async def rejections(svc: ServiceDep, after: Annotated[int, Query(ge=-1)] = -1,
                     limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
    """Messages the ledger keeps with the reason they were refused (forgeries, junk, replays)."""
    async with svc.db.read() as s:
        rows = await store.rejections(s, limit, after)
    return [{"seq": r.seq, "topic": r.topic, "partition": r.partition, "offset": r.offset,
             "log_time": stored_utc(r.log_time), "reason": r.reason, "detail": r.detail, "event_id": r.event_id,
             "message": (load_record(bytes(r.line)) or {}).get("message")} for r in rows]


@router.get("/export")
async def export(svc: ServiceDep) -> StreamingResponse:
    """The ledger as a file a third party verifies with its own code (docs/audit-format.md)."""
    return StreamingResponse(state.export_lines(svc.db), media_type="application/x-ndjson",
                             headers={"content-disposition": 'attachment; filename="rxflow-ledger.jsonl"'})


pages = APIRouter(tags=["pages"])


@pages.get("/", response_class=HTMLResponse, include_in_schema=False)
async def page() -> HTMLResponse:
    """The regulator's overview page (Chinese)."""
    return HTMLResponse(PAGE.read_text(encoding="utf-8"))


def build_http(svc: AuditService) -> FastAPI:
    """The FastAPI app; it starts the service unless a test started it already."""

    async def health() -> dict[str, Any]:
        ledger = svc.ledger
        return {"service": "audit", "entries": ledger.size if ledger else None,
                "checkpoints": ledger.checkpoints if ledger else None,
                "offset_holes": [h.describe() for h in svc.offsets.holes]}

    return service_app("rxflow 审计 (audit)", svc, (router, pages), health)
