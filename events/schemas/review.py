"""What the review decides: automatic findings, then the pharmacist's signed verdict."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from events.schemas.base import ActorId, EventPayload, Reason

Severity = Literal["block", "pharmacist", "info"]


class Finding(BaseModel):
    """One rule's verdict on a prescription, citing the clause it enforces."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    rule_id: str = Field(min_length=1, max_length=64)
    clause: str = Field(min_length=1, max_length=200, description="the regulation and article")
    severity: Severity
    message_zh: str = Field(min_length=1, max_length=500)
    message_en: str = Field(min_length=1, max_length=500)
    item_index: int | None = Field(default=None, ge=0)


class Override(BaseModel):
    """A pharmacist accepts a finding, and says why."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    rule_id: str = Field(min_length=1, max_length=64)
    reason: Reason


class ReviewPassed(EventPayload):
    """The rule pack found nothing that needs a pharmacist."""

    TYPE = "review.passed"

    prescription_id: UUID
    rule_pack_version: str = Field(min_length=1, max_length=32)
    # A replay needs the formulary the rules read as well as the rules (optional: added later).
    formulary_version: str | None = Field(default=None, max_length=32)
    findings: tuple[Finding, ...] = ()


class ReviewFlagged(EventPayload):
    """The rule pack found something a pharmacist (or an upper-level doctor) must decide."""

    TYPE = "review.flagged"

    prescription_id: UUID
    rule_pack_version: str = Field(min_length=1, max_length=32)
    formulary_version: str | None = Field(default=None, max_length=32)
    findings: tuple[Finding, ...] = Field(min_length=1)
    needs_upper_review: bool = False


class PrescriptionApproved(EventPayload):
    """The prescription may circulate: by a pharmacist's signature, or automatically when clean."""

    TYPE = "prescription.approved"

    prescription_id: UUID
    reviewer_id: ActorId
    automatic: bool = False
    rule_pack_version: str = Field(min_length=1, max_length=32)
    overrides: tuple[Override, ...] = ()
    note: str | None = Field(default=None, max_length=500)


class PrescriptionRejected(EventPayload):
    """A pharmacist or upper-level doctor refused the prescription."""

    TYPE = "prescription.rejected"

    prescription_id: UUID
    reviewer_id: ActorId
    reason: Reason
    rule_ids: tuple[str, ...] = ()
    rule_pack_version: str | None = Field(default=None, max_length=32)
