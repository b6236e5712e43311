"""Shared building blocks of event payloads."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer


def _require_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamp must carry a timezone (UTC)")
    return value.astimezone(UTC)


def format_utc(value: datetime) -> str:
    """One spelling for every timestamp on the log: microseconds and a Z."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


UtcDatetime = Annotated[
    datetime, AfterValidator(_require_utc), PlainSerializer(format_utc, return_type=str)
]

ActorId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]
Reason = Annotated[str, Field(min_length=1, max_length=500, description="free text, why")]


class EventPayload(BaseModel):
    """Base of every payload: immutable; unknown fields from newer producers are ignored."""

    # New optional fields need no version bump (DESIGN.md), so an older reader must
    # tolerate fields it does not know; the signature still covers them.
    model_config = ConfigDict(frozen=True, extra="ignore")

    TYPE: ClassVar[str]
    SCHEMA_VERSION: ClassVar[int] = 1
