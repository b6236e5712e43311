"""The envelope every message on the log travels in (DESIGN.md: The envelope)."""

from __future__ import annotations

from typing import Any, Generic, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from events.schemas.base import ActorId, EventPayload, UtcDatetime

# A message larger than this is refused before it is parsed: prescriptions are small,
# and an unbounded message is a cheap way to exhaust every consumer at once.
MAX_MESSAGE_BYTES = 64 * 1024

ENVELOPE_FIELDS = (
    "event_id",
    "type",
    "schema_version",
    "stream_id",
    "stream_version",
    "producer",
    "actor",
    "producer_seq",
    "occurred_at",
    "key_id",
    "payload",
    "signature",
)

P = TypeVar("P", bound=EventPayload)


class Envelope(BaseModel, Generic[P]):
    """A signed event: who (actor, key), what (type, payload), where in which stream, when."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: UUID
    type: str
    schema_version: int = Field(ge=1)
    stream_id: str = Field(min_length=1, max_length=64)
    stream_version: int = Field(ge=1, description="position in the stream, from 1, no gaps")
    producer: str = Field(min_length=1, max_length=32, description="the service that emitted it")
    actor: ActorId
    producer_seq: int = Field(ge=1, description="per-producer counter, no gaps")
    occurred_at: UtcDatetime
    key_id: ActorId
    payload: P
    signature: str = Field(min_length=1, max_length=200)

    def wire_dict(self) -> dict[str, Any]:
        """The JSON object as it goes on the wire (payload in its JSON form)."""
        return self.model_dump(mode="json")
