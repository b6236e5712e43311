"""What a pharmacy does with an approved prescription, and when it runs out of time."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from events.schemas.base import ActorId, EventPayload, Reason, UtcDatetime

PharmacyKind = Literal["hospital", "retail"]


class PrescriptionClaimed(EventPayload):
    """One pharmacy took the prescription exclusively, to prepare it."""

    TYPE = "prescription.claimed"

    prescription_id: UUID
    pharmacy_id: ActorId
    pharmacy_kind: PharmacyKind
    claimed_by: ActorId


class PrescriptionReleased(EventPayload):
    """The claiming pharmacy gave the prescription back; it is approved again."""

    TYPE = "prescription.released"

    prescription_id: UUID
    pharmacy_id: ActorId
    reason: Reason


class DispensedLine(BaseModel):
    """What left the shelf for one item: batch and drug trace codes (药品追溯码)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    item_index: int = Field(ge=0)
    drug_code: str = Field(min_length=1, max_length=64)
    quantity: Decimal = Field(gt=0)
    batch_no: str = Field(min_length=1, max_length=40)
    # National drug traceability codes are 20 digits; some packs carry a longer code.
    trace_codes: tuple[str, ...] = Field(min_length=1, max_length=200)
    # 拆零: tablets counted out of an opened pack. Its code goes out with each such dispense until
    # the pack is used up, so it may be on several prescriptions; a whole pack's code on one only.
    split_pack: bool = Field(default=False, description="dispensed from an opened pack (拆零)")


def packs_of(lines: Iterable[DispensedLine]) -> dict[str, bool]:
    """The packs these lines hand out: trace code -> from an opened pack (拆零). A code on two
    lines (refused at the counter, possible on the log) counts as its first line says."""
    out: dict[str, bool] = {}
    for line in lines:
        for code in line.trace_codes:
            out.setdefault(code, line.split_pack)
    return out


class PrescriptionDispensed(EventPayload):
    """The drugs were handed over (or packed for home delivery)."""

    TYPE = "prescription.dispensed"

    prescription_id: UUID
    pharmacy_id: ActorId
    pharmacy_kind: PharmacyKind
    dispensed_by: ActorId
    lines: tuple[DispensedLine, ...] = Field(min_length=1)
    for_home_delivery: bool = False


class PrescriptionExpired(EventPayload):
    """Validity passed before dispensing; it can never be dispensed now."""

    TYPE = "prescription.expired"

    prescription_id: UUID
    valid_until: UtcDatetime
