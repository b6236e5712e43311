"""Prescriber read model: each doctor's prescriptions and where they stand."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text, select
from sqlalchemy.ext.asyncio import AsyncSession

from events.lifecycle import Prescription
from services.kit.rows import upsert

metadata = MetaData()

prescriptions = Table(
    "prescriptions",
    metadata,
    Column("prescription_id", String(36), primary_key=True),
    Column("doctor_id", String(64), nullable=False, index=True),
    Column("clinic_id", String(64), nullable=False),
    Column("status", String(32), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("pharmacy_id", String(64), nullable=True),
    Column("drugs", Text, nullable=False),
    Column("diagnoses", Text, nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("valid_until", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
    Column("dispensed_by", String(64), nullable=True),
    Column("last_reason", Text, nullable=True),
)


async def project(session: AsyncSession, state: Prescription) -> None:
    """Write one prescription's row from its folded state."""
    issued = state.issued
    if issued is None:  # a stream this service never saw begin; nothing to show
        return
    await upsert(session, prescriptions, {
        "prescription_id": state.prescription_id,
        "doctor_id": issued.doctor_id,
        "clinic_id": issued.clinic_id,
        "status": str(state.status),
        "channel": issued.channel.value,
        "pharmacy_id": state.claimed_by_pharmacy or issued.pharmacy_id,
        "drugs": "、".join(i.drug_name for i in issued.items),
        "diagnoses": "、".join(f"{d.code} {d.name}" for d in issued.diagnoses),
        "issued_at": state.issued_at,
        "valid_until": issued.valid_until,
        "updated_at": state.updated_at,
        "version": state.version,
        "dispensed_by": state.dispensed.pharmacy_id if state.dispensed else None,
        "last_reason": state.last_reason,
    }, key="prescription_id")


async def list_for_doctor(
    session: AsyncSession, doctor_id: str, status: str | None, limit: int
) -> list[dict[str, Any]]:
    """The doctor's prescriptions, newest first."""
    query = select(prescriptions).where(prescriptions.c.doctor_id == doctor_id)
    if status:
        query = query.where(prescriptions.c.status == status)
    rows = await session.execute(query.order_by(prescriptions.c.issued_at.desc()).limit(limit))
    return [dict(r._mapping) for r in rows]
