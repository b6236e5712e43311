"""What the doctor writes: the issued prescription and its cancellation."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from events.schemas.base import ActorId, EventPayload, Reason, UtcDatetime


class Channel(StrEnum):
    """Where the patient fills the prescription (双通道: hospital or designated retail)."""

    HOSPITAL = "hospital"
    RETAIL = "retail"  # a named designated retail pharmacy
    ANY_DESIGNATED = "any_designated"  # any designated pharmacy, found by pickup code
    HOME_DELIVERY = "home_delivery"


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class PatientFacts(Frozen):
    """Clinical facts the review needs; no name, ID number, phone or address (DESIGN.md)."""

    patient_ref: str = Field(
        min_length=16, max_length=128, description="pseudonym: keyed hash of the patient's ID"
    )
    sex: Literal["M", "F"]
    age_years: int = Field(ge=0, le=130)
    age_months: int | None = Field(default=None, ge=0, le=11, description="for infants")
    weight_kg: Decimal | None = Field(default=None, gt=0, le=500)
    pregnant: bool = False
    breastfeeding: bool = False
    allergies: tuple[str, ...] = Field(default=(), description="drug codes or class ids")


class Diagnosis(Frozen):
    code: str = Field(pattern=r"^[A-Z]\d{2}(\.[0-9A-Z]{1,4})?$", examples=["I10", "E11.9"])
    name: str = Field(min_length=1, max_length=200)


class Item(Frozen):
    """One drug line: what, how much, how often, by which route, for how long."""

    drug_code: str = Field(min_length=1, max_length=64)
    drug_name: str = Field(min_length=1, max_length=200)
    dose: Decimal = Field(gt=0, description="amount per administration")
    dose_unit: str = Field(min_length=1, max_length=16, examples=["mg", "g", "IU", "ml"])
    frequency: str = Field(
        pattern=r"^(qd|bid|tid|qid|qn|q4h|q6h|q8h|q12h|qw|biw|prn|st)$",
        description="administrations per day, in the usual Latin abbreviations",
    )
    route: str = Field(min_length=1, max_length=16, examples=["po", "iv", "im", "sc"])
    days: int = Field(ge=1, le=84, description="days of supply; 84 = 12 weeks, the long-term cap")
    quantity: Decimal = Field(gt=0)
    quantity_unit: str = Field(min_length=1, max_length=16, examples=["box", "tablet"])


class PrescriptionIssued(EventPayload):
    """A doctor signed a prescription."""

    TYPE = "prescription.issued"

    prescription_id: UUID
    clinic_id: ActorId
    doctor_id: ActorId
    patient: PatientFacts
    diagnoses: tuple[Diagnosis, ...] = Field(min_length=1, max_length=10)
    items: tuple[Item, ...] = Field(min_length=1, max_length=20)
    channel: Channel
    pharmacy_id: ActorId | None = Field(
        default=None, description="the hospital or named retail pharmacy, when the channel names one"
    )
    valid_days: int = Field(ge=1, le=3, description="处方管理办法 art. 18: 1 day, at most 3")
    valid_until: UtcDatetime
    emergency: bool = False
    chronic: bool = False
    long_term: bool = False
    long_supply_reason: str | None = Field(default=None, max_length=500)
    pickup_code_hash: str = Field(pattern=r"^[0-9a-f]{64}$", description="HMAC-SHA256 of the pickup code")
    sealed_contact: str | None = Field(
        default=None, max_length=4096, description="delivery contact, encrypted for the delivery service"
    )

    @model_validator(mode="after")
    def _pharmacy_named_when_needed(self) -> PrescriptionIssued:
        named = self.channel in (Channel.HOSPITAL, Channel.RETAIL)
        if named and not self.pharmacy_id:
            raise ValueError(f"channel {self.channel.value} needs pharmacy_id")
        return self


class PrescriptionCancelled(EventPayload):
    """The doctor withdrew the prescription before it was dispensed."""

    TYPE = "prescription.cancelled"

    prescription_id: UUID
    doctor_id: ActorId
    reason: Reason

