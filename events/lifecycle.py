"""The prescription lifecycle, folded the same way by every service and by the regulator.

Several services write to one prescription's stream (the doctor may cancel while a
pharmacy claims), so the log's order is the arbiter: an event applies only when its
stream_version is the next one and its transition is legal from the current state.
Anything else is void: kept on the log, reported, never applied. Every reader folds the
same log the same way, so every reader reaches the same state.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from events.envelope import Envelope
from events.schemas import (
    DeliveryAssigned,
    PrescriptionClaimed,
    PrescriptionDispensed,
    PrescriptionIssued,
    ReviewFlagged,
    ReviewPassed,
)


class Status(StrEnum):
    ISSUED = "issued"
    PASSED = "passed"  # the rule pack found nothing; waiting for (automatic) approval
    FLAGGED = "flagged"  # a pharmacist must decide
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    CLAIMED = "claimed"
    DISPENSED = "dispensed"
    DELIVERY_REQUESTED = "delivery_requested"
    ASSIGNED = "assigned"
    PICKED_UP = "picked_up"
    DELIVERED = "delivered"
    DELIVERY_FAILED = "delivery_failed"
    RETURNED = "returned"


S = Status
BEFORE_DISPENSE = (S.ISSUED, S.PASSED, S.FLAGGED, S.APPROVED, S.CLAIMED)

# Which status each event type may start from, and where it leads (DESIGN.md: lifecycle).
TRANSITIONS: dict[str, tuple[tuple[Status | None, ...], Status | None]] = {
    "prescription.issued": ((None,), S.ISSUED),
    "review.passed": ((S.ISSUED,), S.PASSED),
    "review.flagged": ((S.ISSUED,), S.FLAGGED),
    "prescription.approved": ((S.PASSED, S.FLAGGED), S.APPROVED),
    "prescription.rejected": ((S.PASSED, S.FLAGGED), S.REJECTED),
    # The doctor cancels before a pharmacy has taken it; a claimed one must be released first.
    "prescription.cancelled": ((S.ISSUED, S.PASSED, S.FLAGGED, S.APPROVED), S.CANCELLED),
    "prescription.expired": (BEFORE_DISPENSE, S.EXPIRED),
    "prescription.claimed": ((S.APPROVED,), S.CLAIMED),
    "prescription.released": ((S.CLAIMED,), S.APPROVED),
    "prescription.dispensed": ((S.CLAIMED,), S.DISPENSED),
    "delivery.requested": ((S.DISPENSED,), S.DELIVERY_REQUESTED),
    "delivery.assigned": ((S.DELIVERY_REQUESTED,), S.ASSIGNED),
    "delivery.picked_up": ((S.ASSIGNED,), S.PICKED_UP),
    "delivery.delivered": ((S.PICKED_UP,), S.DELIVERED),
    "delivery.failed": ((S.ASSIGNED, S.PICKED_UP), S.DELIVERY_FAILED),
    "delivery.returned": ((S.DELIVERY_FAILED,), S.RETURNED),
}

TERMINAL = (S.REJECTED, S.CANCELLED, S.EXPIRED, S.DELIVERED, S.RETURNED)


@dataclass(frozen=True)
class Step:
    """One applied event, for histories and timelines."""

    version: int
    type: str
    actor: str
    occurred_at: datetime


@dataclass(frozen=True)
class Prescription:
    """The state of one prescription after folding its stream."""

    prescription_id: str
    version: int = 0
    status: Status | None = None
    issued: PrescriptionIssued | None = None
    issued_at: datetime | None = None
    review: ReviewPassed | ReviewFlagged | None = None
    reviewer_id: str | None = None
    claimed_by_pharmacy: str | None = None
    dispensed: PrescriptionDispensed | None = None
    delivery_id: str | None = None
    courier_id: str | None = None
    last_reason: str | None = None
    updated_at: datetime | None = None
    history: tuple[Step, ...] = field(default=())

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


@dataclass(frozen=True)
class Void:
    """An event that lost: a stale version, or a transition the state does not allow."""

    event_id: str
    type: str
    version: int
    reason: str


def _why_void(state: Prescription, event: Envelope[Any]) -> str | None:
    rule = TRANSITIONS.get(event.type)
    if rule is None:
        return f"{event.type} is not part of the prescription lifecycle"
    if event.stream_version != state.version + 1:
        return f"stale: version {event.stream_version}, stream is at {state.version}"
    sources, _ = rule
    if state.status not in sources:
        return f"{event.type} not allowed in state {state.status}"
    p = event.payload
    if event.type in ("prescription.released", "prescription.dispensed") and p.pharmacy_id != state.claimed_by_pharmacy:
        return f"{p.pharmacy_id} did not claim it ({state.claimed_by_pharmacy} did)"
    if (event.type.startswith("delivery.") and event.type != "delivery.requested"
            and str(p.delivery_id) != state.delivery_id):
        return f"delivery {p.delivery_id} is not this prescription's delivery"
    return None


def _absorbed(event: Envelope[Any]) -> dict[str, Any]:
    """The fields an event's payload sets on the state (beyond version, status and history)."""
    p = event.payload
    changes: dict[str, Any] = {}
    if isinstance(p, PrescriptionIssued):
        changes.update(issued=p, issued_at=event.occurred_at)
    elif isinstance(p, ReviewPassed | ReviewFlagged):
        changes["review"] = p
    elif isinstance(p, PrescriptionClaimed):
        changes["claimed_by_pharmacy"] = p.pharmacy_id
    elif isinstance(p, PrescriptionDispensed):
        changes["dispensed"] = p
    elif event.type == "prescription.released":
        changes["claimed_by_pharmacy"] = None
    if event.type == "delivery.requested":
        changes["delivery_id"] = str(p.delivery_id)
    if isinstance(p, DeliveryAssigned):
        changes["courier_id"] = p.courier_id
    if event.type in ("prescription.approved", "prescription.rejected"):
        changes["reviewer_id"] = p.reviewer_id
    # Not getattr(p, "reason", None): on a pydantic model a missing attribute raises inside
    # __getattr__ first, and that was 2 % of every service's CPU (folding is on every path).
    reason = p.__dict__.get("reason")
    if isinstance(reason, str):
        changes["last_reason"] = reason
    return changes


def evolve(state: Prescription, event: Envelope[Any]) -> Prescription | Void:
    """Apply one verified event, or say why it is void."""
    why = _why_void(state, event)
    if why is not None:
        return Void(str(event.event_id), event.type, event.stream_version, why)
    _, target = TRANSITIONS[event.type]
    step = Step(event.stream_version, event.type, event.actor, event.occurred_at)
    # One replace per event: it rebuilds the whole state, and folding is on every hot path.
    return replace(state, version=event.stream_version, status=target, updated_at=event.occurred_at,
                   history=(*state.history, step), **_absorbed(event))


def fold(prescription_id: str, events: list[Envelope[Any]]) -> tuple[Prescription, list[Void]]:
    """Fold a stream in log order; return its state and the events that were void."""
    return fold_on(Prescription(prescription_id), events)


def fold_on(state: Prescription, events: Iterable[Envelope[Any]]) -> tuple[Prescription, list[Void]]:
    """Fold further events onto a state; return the new state and the events that were void."""
    voids = []
    for event in events:
        result = evolve(state, event)
        if isinstance(result, Void):
            voids.append(result)
        else:
            state = result
    return state, voids
