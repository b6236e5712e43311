"""What a reviewer sends: the bodies of approve and reject, validated before anything is decided."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

# A blank reason is no reason: the signed event is the record a regulator reads of why.
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class OverrideIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rule_id: str = Field(min_length=1, max_length=64, examples=["format.max_drugs"])
    reason: Text = Field(examples=["慢病老人长期合用，已电话确认开方医师"])


class ApproveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Text | None = Field(default=None, examples=["已核对"])
    overrides: list[OverrideIn] = Field(default_factory=list, max_length=50,
                                        description="one {rule_id, reason} per finding of severity block/pharmacist")


class RejectBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Text = Field(examples=["药品超过5种，请分开开具"])
    rule_ids: list[str] = Field(default_factory=list, max_length=50)
