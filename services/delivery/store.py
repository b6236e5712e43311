"""Delivery read model: one job per prescription sent home, and who carries it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text, and_, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from events.lifecycle import Prescription, Status
from services.delivery.domain import CodeAttempts
from services.kit.rows import select_in, stored_utc, upsert

metadata = MetaData()

jobs = Table(
    "jobs",
    metadata,
    Column("prescription_id", String(36), primary_key=True),
    Column("delivery_id", String(36), nullable=False, unique=True),
    Column("status", String(32), nullable=False, index=True),
    Column("pharmacy_id", String(64), nullable=False),
    Column("courier_id", String(64), nullable=True, index=True),
    Column("sealed_contact", Text, nullable=True),
    Column("pickup_code_hash", String(64), nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("last_reason", Text, nullable=True),
)

# Wrong pickup codes in a row per job (a throttle, not an event: a wrong code changes nothing
# on the log, but guessing must be slowed; see domain.MAX_WRONG_CODES).
code_attempts = Table(
    "code_attempts",
    metadata,
    Column("prescription_id", String(36), primary_key=True),
    Column("wrong", Integer, nullable=False),
    Column("last_wrong_at", DateTime(timezone=True), nullable=False),
    Column("last_courier_id", String(64), nullable=False),
)

# What a courier's list shows: never the sealed contact nor the code hash.
PUBLIC = ("prescription_id", "delivery_id", "status", "pharmacy_id", "courier_id",
          "requested_at", "updated_at", "last_reason")
MINE = (Status.ASSIGNED, Status.PICKED_UP, Status.DELIVERY_FAILED)


async def project(session: AsyncSession, state: Prescription) -> None:
    """Write one prescription's job row, once a delivery was requested for it."""
    if state.delivery_id is None or state.issued is None or state.dispensed is None:
        return
    requested_at = next(h.occurred_at for h in state.history if h.type == "delivery.requested")
    # The lifecycle keeps the last reason of any event (a pharmacy's release, say);
    # on a job only the courier's failure reason means anything.
    failed = state.status in (Status.DELIVERY_FAILED, Status.RETURNED)
    await upsert(session, jobs, {
        "prescription_id": state.prescription_id,
        "delivery_id": state.delivery_id,
        "status": str(state.status),
        "pharmacy_id": state.dispensed.pharmacy_id,
        "courier_id": state.courier_id,
        "sealed_contact": state.issued.sealed_contact,
        "pickup_code_hash": state.issued.pickup_code_hash,
        "requested_at": requested_at,
        "updated_at": state.updated_at,
        "last_reason": state.last_reason if failed else None,
    }, key="prescription_id")


async def list_for_courier(session: AsyncSession, courier_id: str, limit: int) -> list[dict[str, Any]]:
    """Open jobs anyone may accept, and this courier's unfinished ones, oldest first."""
    query = (
        select(*(jobs.c[name] for name in PUBLIC))
        .where(or_(
            jobs.c.status == Status.DELIVERY_REQUESTED.value,
            and_(jobs.c.courier_id == courier_id, jobs.c.status.in_([s.value for s in MINE])),
        ))
        .order_by(jobs.c.requested_at)
        .limit(limit)
    )
    return [dict(r._mapping) for r in await session.execute(query)]


async def get_job(session: AsyncSession, prescription_id: str) -> dict[str, Any] | None:
    """One job's public fields."""
    query = select(*(jobs.c[name] for name in PUBLIC)).where(jobs.c.prescription_id == prescription_id)
    row = (await session.execute(query)).first()
    return dict(row._mapping) if row else None


async def get_code_attempts(session: AsyncSession, prescription_id: str) -> CodeAttempts:
    """The job's run of wrong pickup codes (none yet: zero)."""
    found = await select_in(session, code_attempts, "prescription_id", [prescription_id])
    return CodeAttempts(found[0].wrong, stored_utc(found[0].last_wrong_at)) if found else CodeAttempts()


async def put_code_attempts(session: AsyncSession, prescription_id: str, attempts: CodeAttempts,
                            courier_id: str) -> None:
    await upsert(session, code_attempts, {"prescription_id": prescription_id, "wrong": attempts.wrong,
                                          "last_wrong_at": attempts.last_wrong_at,
                                          "last_courier_id": courier_id}, key="prescription_id")


async def clear_code_attempts(session: AsyncSession, prescription_id: str) -> None:
    await session.execute(delete(code_attempts).where(code_attempts.c.prescription_id == prescription_id))
