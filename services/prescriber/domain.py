"""Pure decisions of the prescriber: issue and cancel. No I/O; clock and ids are arguments."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from events.lifecycle import Prescription, Status
from events.schemas import (
    Channel,
    Diagnosis,
    Item,
    PatientFacts,
    PrescriptionCancelled,
    PrescriptionIssued,
)
from services.kit.errors import Refused


class ContactDetails(BaseModel):
    """Who and where, for home delivery only; sealed before it reaches the log."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1, max_length=50, examples=["张三"])
    phone: str = Field(pattern=r"^1\d{10}$", examples=["13800138000"])
    address: str = Field(min_length=4, max_length=200, examples=["桥头村三组12号"])


class IssuePrescription(BaseModel):
    """What the doctor fills in. Patient identity is pseudonymised before anything is stored."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    patient_id_number: str = Field(pattern=r"^\d{17}[\dX]$", description="居民身份证号; only its keyed hash is kept")
    sex: str = Field(pattern="^[MF]$")
    age_years: int = Field(ge=0, le=130)
    age_months: int | None = Field(default=None, ge=0, le=11)
    weight_kg: Decimal | None = Field(default=None, gt=0, le=500)
    pregnant: bool = False
    breastfeeding: bool = False
    allergies: tuple[str, ...] = ()
    diagnoses: tuple[Diagnosis, ...] = Field(min_length=1, max_length=10)
    items: tuple[Item, ...] = Field(min_length=1, max_length=20)
    channel: Channel
    pharmacy_id: str | None = None
    valid_days: int = Field(default=1, ge=1, le=3, description="处方管理办法 art. 18: 1 day, at most 3")
    emergency: bool = False
    chronic: bool = False
    long_term: bool = False
    long_supply_reason: str | None = Field(default=None, max_length=500)
    contact: ContactDetails | None = None

    @model_validator(mode="after")
    def _channel_needs(self) -> IssuePrescription:
        if self.channel in (Channel.HOSPITAL, Channel.RETAIL) and not self.pharmacy_id:
            raise ValueError(f"channel {self.channel.value} needs pharmacy_id")
        if self.channel is Channel.HOME_DELIVERY and self.contact is None:
            raise ValueError("home delivery needs contact (name, phone, address)")
        return self


def decide_issue(
    cmd: IssuePrescription,
    *,
    prescription_id: UUID,
    doctor_id: str,
    clinic_id: str,
    patient_ref: str,
    pickup_hash: str,
    sealed_contact: str | None,
    now: datetime,
) -> PrescriptionIssued:
    """Turn the doctor's form into the issued event (validity counted from now)."""
    return PrescriptionIssued(
        prescription_id=prescription_id,
        clinic_id=clinic_id,
        doctor_id=doctor_id,
        patient=PatientFacts(
            patient_ref=patient_ref, sex=cmd.sex, age_years=cmd.age_years, age_months=cmd.age_months,
            weight_kg=cmd.weight_kg, pregnant=cmd.pregnant, breastfeeding=cmd.breastfeeding,
            allergies=cmd.allergies,
        ),
        diagnoses=cmd.diagnoses,
        items=cmd.items,
        channel=cmd.channel,
        pharmacy_id=cmd.pharmacy_id,
        valid_days=cmd.valid_days,
        valid_until=now + timedelta(days=cmd.valid_days),
        emergency=cmd.emergency,
        chronic=cmd.chronic,
        long_term=cmd.long_term,
        long_supply_reason=cmd.long_supply_reason,
        pickup_code_hash=pickup_hash,
        sealed_contact=sealed_contact,
    )


CANCELLABLE = (Status.ISSUED, Status.PASSED, Status.FLAGGED, Status.APPROVED)


def decide_cancel(state: Prescription, doctor_id: str, reason: str) -> PrescriptionCancelled:
    """Only the prescribing doctor cancels, and only before a pharmacy has taken it."""
    if state.issued is None or state.issued.doctor_id != doctor_id:
        raise Refused("not_your_prescription", "only the prescribing doctor may cancel it")
    if state.status == Status.CLAIMED:
        raise Refused("claimed", f"pharmacy {state.claimed_by_pharmacy} is preparing it; ask it to release first")
    if state.status not in CANCELLABLE:
        raise Refused(f"already_{state.status}", f"cannot cancel a prescription that is {state.status}")
    return PrescriptionCancelled(prescription_id=state.issued.prescription_id, doctor_id=doctor_id, reason=reason)
