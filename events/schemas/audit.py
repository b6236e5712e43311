"""The audit ledger's signed checkpoints: a regulator holds the service to each one it publishes."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from events.schemas.base import EventPayload, UtcDatetime


class LedgerSource(BaseModel):
    """One partition the ledger reads, and the offset it has covered up to (exclusive)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    topic: str = Field(min_length=1, max_length=249, examples=["rx.events"])
    partition: int = Field(ge=0)
    next_offset: int = Field(ge=0, description="every offset below this one is in the ledger")


class AuditCheckpoint(EventPayload):
    """The ledger's first tree_size entries hash to root_hash (RFC 6962), as of timestamp."""

    TYPE = "audit.checkpoint"

    tree_size: int = Field(ge=1)
    root_hash: str = Field(pattern=r"^[0-9a-f]{64}$", description="hex SHA-256 Merkle tree head")
    timestamp: UtcDatetime
    # The order of this list is the order of the batch's entries (docs/audit-format.md).
    sources: tuple[LedgerSource, ...] = Field(min_length=1, max_length=1000)
