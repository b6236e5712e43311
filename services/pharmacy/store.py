"""Pharmacy read model: every prescription as an order, where it is routed and where it stands."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Column, DateTime, Integer, MetaData, String, Table, Text, and_, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from events.lifecycle import BEFORE_DISPENSE, Prescription, Status
from events.schemas import Channel, DispensedLine, PrescriptionIssued, packs_of
from services.kit.memo import SameObjectMemo
from services.kit.rows import insert_missing, select_in, stored_utc, upsert
from services.pharmacy.domain import DispensedPack, Pharmacist, routed_to

metadata = MetaData()

orders = Table(
    "orders",
    metadata,
    Column("prescription_id", String(36), primary_key=True),
    Column("status", String(32), nullable=False, index=True),
    Column("channel", String(32), nullable=False),
    Column("pharmacy_id", String(64), nullable=True, index=True),  # routed to; None = any (per channel)
    Column("claimed_by", String(64), nullable=True, index=True),  # the claiming pharmacy
    Column("pickup_code_hash", String(64), nullable=False, index=True),
    Column("valid_until", DateTime(timezone=True), nullable=False, index=True),
    Column("issued_at", DateTime(timezone=True), nullable=True),
    Column("clinic_id", String(64), nullable=False),
    Column("doctor_id", String(64), nullable=False),
    Column("diagnoses", Text, nullable=False),
    Column("drugs", Text, nullable=False),  # JSON list of the items, with their item_index
    Column("for_home_delivery", Boolean, nullable=False),
    Column("dispensed_by", String(64), nullable=True),
    Column("dispensed_at", DateTime(timezone=True), nullable=True),
    Column("version", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=True),
    Column("last_reason", Text, nullable=True),
)


# Every pack dispensed, by its trace code (药品追溯码): the first prescription to carry a code
# keeps it (log order decides on a rebuild), until a returned delivery puts the pack back.
packs = Table(
    "dispensed_packs",
    metadata,
    Column("trace_code", Text, primary_key=True),  # 20 digits on the API; the log's schema allows longer
    Column("prescription_id", String(36), nullable=False, index=True),
    Column("pharmacy_id", String(64), nullable=False),
    Column("dispensed_at", DateTime(timezone=True), nullable=False),
    Column("split", Boolean, nullable=False),  # an opened pack (拆零): later split dispenses share it
)


def _dispensed_at(state: Prescription) -> datetime | None:
    return next((h.occurred_at for h in state.history if h.type == "prescription.dispensed"), None)


def _issued_columns(issued: PrescriptionIssued) -> dict[str, Any]:
    """The columns that come from the issued prescription alone."""
    drugs = [{"item_index": i, **item.model_dump(mode="json")} for i, item in enumerate(issued.items)]
    return {
        "channel": issued.channel.value,
        "pharmacy_id": issued.pharmacy_id,
        "pickup_code_hash": issued.pickup_code_hash,
        "valid_until": issued.valid_until,
        "clinic_id": issued.clinic_id,
        "doctor_id": issued.doctor_id,
        "diagnoses": "、".join(f"{d.code} {d.name}" for d in issued.diagnoses),
        "drugs": json.dumps(drugs, ensure_ascii=False),
        "for_home_delivery": issued.channel == Channel.HOME_DELIVERY,
    }


_issued_columns_kept: SameObjectMemo[PrescriptionIssued, dict[str, Any]] = SameObjectMemo(_issued_columns)


async def project(session: AsyncSession, state: Prescription) -> None:
    """Write one prescription's order row from its folded state."""
    issued = state.issued
    if issued is None:  # a stream this service never saw begin; nothing to show
        return
    await upsert(session, orders, {
        "prescription_id": state.prescription_id,
        "status": str(state.status),
        "claimed_by": state.claimed_by_pharmacy,
        "issued_at": state.issued_at,
        **_issued_columns_kept(state.prescription_id, issued),
        "dispensed_by": state.dispensed.pharmacy_id if state.dispensed else None,
        "dispensed_at": _dispensed_at(state),
        "version": state.version,
        "updated_at": state.updated_at,
        "last_reason": state.last_reason,
    }, key="prescription_id")
    await _record_packs(session, state)


async def _record_packs(session: AsyncSession, state: Prescription) -> None:
    if state.status == Status.RETURNED:
        await session.execute(delete(packs).where(packs.c.prescription_id == state.prescription_id))
        return
    dispensed, at = state.dispensed, _dispensed_at(state)
    if dispensed is None or at is None:
        return
    # Written on every projection of a dispensed prescription, not only when it is dispensed:
    # a batch may carry the dispense and what followed, and a code another stream held until
    # its return comes back to this one. Existing codes are left as they are.
    await insert_missing(session, packs, _pack_rows(dispensed.lines, state.prescription_id, dispensed.pharmacy_id, at),
                         key="trace_code")


def _pack_rows(lines: Sequence[DispensedLine], prescription_id: str, pharmacy_id: str,
               at: datetime) -> list[dict[str, Any]]:
    return [{"trace_code": code, "prescription_id": prescription_id, "pharmacy_id": pharmacy_id,
             "dispensed_at": at, "split": split} for code, split in packs_of(lines).items()]


async def take_packs(session: AsyncSession, prescription_id: str, pharmacy_id: str,
                     lines: Sequence[DispensedLine], at: datetime) -> list[DispensedPack]:
    """Record these packs as leaving on this prescription, and return those another one holds.

    Taken before the decision, in its transaction: a refusal rolls the rows back. Inserting first
    and reading after is what makes two concurrent dispenses of one pack safe on PostgreSQL too:
    the second insert waits for the first transaction, and its read then sees the first's row."""
    rows = _pack_rows(lines, prescription_id, pharmacy_id, at)
    await insert_missing(session, packs, rows, key="trace_code")
    found = await select_in(session, packs, "trace_code", [r["trace_code"] for r in rows])
    return [DispensedPack(r.trace_code, r.prescription_id, r.pharmacy_id, stored_utc(r.dispensed_at), r.split)
            for r in found if r.prescription_id != prescription_id]


def as_order(row: Any) -> dict[str, Any]:
    """An order as the API shows it: drugs parsed, timestamps in UTC, no pickup-code hash."""
    order = {k: stored_utc(v) for k, v in row._mapping.items() if k != "pickup_code_hash"}
    order["drugs"] = json.loads(order["drugs"])
    return order


async def list_for(session: AsyncSession, pharmacy_id: str, limit: int) -> list[dict[str, Any]]:
    """Approved orders routed to this pharmacy, and those it has claimed; oldest first."""
    # any_designated orders are not listed: a pharmacy finds them by the patient's pickup code,
    # so no retail pharmacy sees the whole county's prescriptions.
    routed = or_(orders.c.pharmacy_id == pharmacy_id,
                 and_(orders.c.channel == Channel.HOME_DELIVERY.value, orders.c.pharmacy_id.is_(None)))
    query = select(orders).where(or_(
        and_(orders.c.status == Status.APPROVED.value, orders.c.channel != Channel.ANY_DESIGNATED.value, routed),
        and_(orders.c.status == Status.CLAIMED.value, orders.c.claimed_by == pharmacy_id),
    ))
    rows = await session.execute(query.order_by(orders.c.valid_until, orders.c.prescription_id).limit(limit))
    return [as_order(r) for r in rows]


async def lookup(session: AsyncSession, code_hash: str, who: Pharmacist) -> list[dict[str, Any]]:
    """Orders with this pickup-code hash that this pharmacy may see."""
    rows = await session.execute(select(orders).where(orders.c.pickup_code_hash == code_hash))
    return [as_order(r) for r in rows
            if routed_to(r.channel, r.pharmacy_id, who) or r.claimed_by == who.pharmacy_id]


async def due_for_expiry(session: AsyncSession, now: datetime) -> list[str]:
    """Ids of orders past their validity that were never dispensed."""
    rows = await session.execute(
        select(orders.c.prescription_id)
        .where(orders.c.valid_until < now, orders.c.status.in_([s.value for s in BEFORE_DISPENSE]))
        .order_by(orders.c.valid_until)
    )
    return list(rows.scalars())
