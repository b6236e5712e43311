"""Why a message was refused: one precise reason, and the detail a person can act on."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from events.text import storable


class Reason(StrEnum):
    OVERSIZED = "oversized"
    NOT_JSON = "not_json"
    SCHEMA_VIOLATION = "schema_violation"
    UNKNOWN_TYPE = "unknown_type"
    UNKNOWN_SCHEMA_VERSION = "unknown_schema_version"
    UNKNOWN_KEY = "unknown_key"
    KEY_ACTOR_MISMATCH = "key_actor_mismatch"  # the key belongs to another actor
    KEY_NOT_VALID = "key_not_valid"  # revoked, expired or not yet registered at occurred_at
    BAD_SIGNATURE = "bad_signature"
    CLOCK_SKEW = "clock_skew"
    WRONG_PRODUCER = "wrong_producer"
    WRONG_ACTOR_ROLE = "wrong_actor_role"
    ACTOR_MISMATCH = "actor_mismatch"  # the payload names someone other than the signer
    # Not the verifier's: a consumer's verdict on an event already on the log at another position.
    REPLAYED = "replayed"


@dataclass(frozen=True)
class Rejected:
    reason: Reason
    detail: str
    event_id: str | None = None

    def __post_init__(self) -> None:
        # The detail and the claimed id may quote the message; the record of a rejection must
        # store whatever the message held (events/text.py), or the consumer stops on it.
        object.__setattr__(self, "detail", storable(self.detail))
        if self.event_id is not None:
            object.__setattr__(self, "event_id", storable(self.event_id))

    def describe(self) -> str:
        """One line for logs and reports."""
        return f"{self.reason.value}: {self.detail}"
