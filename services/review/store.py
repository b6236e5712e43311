"""Review read model: one row per prescription with its findings and where the decision stands."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    event,
    false,
    inspect,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from events.lifecycle import Prescription, Status
from events.schemas import PrescriptionIssued
from services.kit.memo import SameObjectMemo
from services.kit.rows import stored_utc, upsert

metadata = MetaData()

reviews = Table(
    "reviews",
    metadata,
    Column("prescription_id", String(36), primary_key=True),
    Column("status", String(32), nullable=False, index=True),
    Column("outcome", String(16), nullable=True),  # passed | flagged, once the rule pack ran
    Column("clinic_id", String(64), nullable=False),
    Column("doctor_id", String(64), nullable=False),
    Column("patient", Text, nullable=False),  # clinical facts only: no identity travels (DESIGN.md)
    Column("diagnoses", Text, nullable=False),
    Column("drugs", Text, nullable=False),
    Column("findings", Text, nullable=False),
    Column("rule_pack_version", String(32), nullable=True),
    Column("formulary_version", String(32), nullable=True),
    # Only an upper-level doctor may approve these (乡村医生从业管理条例 第二十八条).
    Column("needs_upper_review", Boolean, nullable=False, default=False, server_default=false()),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("valid_until", DateTime(timezone=True), nullable=False),
    Column("decided_by", String(64), nullable=True),
    Column("decided_at", DateTime(timezone=True), nullable=True),
    Column("last_reason", Text, nullable=True),
    Column("version", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

JSON_COLUMNS = ("patient", "diagnoses", "drugs", "findings")
DECISIONS = ("prescription.approved", "prescription.rejected")
# Columns added after the table first shipped: create_all makes missing tables, not columns.
ADDED_COLUMNS = {"formulary_version": "VARCHAR(32)", "needs_upper_review": "BOOLEAN NOT NULL DEFAULT FALSE"}


@event.listens_for(metadata, "after_create")
def _add_columns(_metadata: MetaData, connection: Connection, **_: Any) -> None:
    have = {c["name"] for c in inspect(connection).get_columns(reviews.name)}
    for name, ddl in ADDED_COLUMNS.items():
        if name not in have:
            connection.exec_driver_sql(f"ALTER TABLE {reviews.name} ADD COLUMN {name} {ddl}")


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _issued_columns(issued: PrescriptionIssued) -> dict[str, Any]:
    """The columns that come from the issued prescription alone."""
    return {
        "clinic_id": issued.clinic_id,
        "doctor_id": issued.doctor_id,
        "patient": _json(issued.patient.model_dump(mode="json", exclude={"patient_ref"})),
        "diagnoses": _json([d.model_dump(mode="json") for d in issued.diagnoses]),
        "drugs": _json([i.model_dump(mode="json") for i in issued.items]),
        "valid_until": issued.valid_until,
    }


_issued_columns_kept: SameObjectMemo[PrescriptionIssued, dict[str, Any]] = SameObjectMemo(_issued_columns)


async def project(session: AsyncSession, state: Prescription) -> None:
    """Write one prescription's row from its folded state."""
    issued = state.issued
    if issued is None:  # a stream this service never saw begin; nothing to show
        return
    review = state.review
    decided = next((h for h in reversed(state.history) if h.type in DECISIONS), None)
    await upsert(session, reviews, {
        "prescription_id": state.prescription_id,
        "status": str(state.status),
        "outcome": None if review is None else review.TYPE.removeprefix("review."),
        **_issued_columns_kept(state.prescription_id, issued),
        "findings": _json([f.model_dump(mode="json") for f in review.findings] if review else []),
        "rule_pack_version": review.rule_pack_version if review else None,
        "formulary_version": review.formulary_version if review else None,
        "needs_upper_review": bool(getattr(review, "needs_upper_review", False)),
        "issued_at": state.issued_at,
        "decided_by": state.reviewer_id,
        "decided_at": decided.occurred_at if decided else None,
        "last_reason": state.last_reason,
        "version": state.version,
        "updated_at": state.updated_at,
    }, key="prescription_id")


def to_dict(row: Any) -> dict[str, Any]:
    """A read-model row as the API shows it."""
    out = {k: stored_utc(v) for k, v in row._mapping.items()}
    out.update({k: json.loads(out[k]) for k in JSON_COLUMNS})
    return out


async def queue(session: AsyncSession, limit: int, level: str = "pharmacist") -> list[dict[str, Any]]:
    """Prescriptions awaiting a decision, oldest first: a pharmacist's, an upper-level doctor's, or all."""
    awaiting = (str(Status.FLAGGED), str(Status.PASSED))
    query = select(reviews).where(reviews.c.status.in_(awaiting))
    if level != "all":
        query = query.where(reviews.c.needs_upper_review.is_(level == "upper"))
    query = query.order_by(reviews.c.issued_at).limit(limit)
    return [to_dict(r) for r in await session.execute(query)]
