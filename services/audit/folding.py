"""Folding verified events into prescriptions, one event at a time, as events.lifecycle.fold does.

lifecycle.evolve copies its frozen state twice per event, which costs a regulator replaying a
million events more than checking their signatures. Here each prescription is a mutable Track:
the void rules are lifecycle's own (_why_void, TRANSITIONS); what an applied event changes
mirrors lifecycle._absorbed, and tests/unit/test_audit_replay.py holds the two folds equal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from datetime import datetime
from typing import Any, NamedTuple

from events.catalog import DEFAULT_CATALOG
from events.envelope import Envelope
from events.lifecycle import TRANSITIONS, Prescription, Step, _why_void
from events.schemas import format_utc

FIELDS = tuple(f.name for f in fields(Prescription) if f.name != "history")
# Payload types with a `reason` field (what getattr(p, "reason", None) finds in lifecycle._absorbed);
# asking a pydantic model for a field it lacks is slow.
REASONED = frozenset(t for t, cls in DEFAULT_CATALOG.payloads.items() if "reason" in cls.model_fields)
# Who wants to see each step, before it is applied: (state, event, why it is void or None, line).
Observer = Callable[["Track", Envelope[Any], str | None, int], None]


# A new prescription's fields (immutable values: a frozen dataclass's defaults), made once.
_DEFAULTS = tuple((name, getattr(Prescription(""), name)) for name in FIELDS)
# Types whose void rules look into the payload; for the others lifecycle._why_void only checks the
# version and the state, and asking a payload for a field it lacks (pharmacy_id) is slow.
PAYLOAD_RULES = frozenset({"prescription.released", "prescription.dispensed"}
                          | {t for t in TRANSITIONS if t.startswith("delivery.") and t != "delivery.requested"})


class Track:
    """A prescription while its stream is folded; frozen() gives the lifecycle.Prescription."""

    __slots__ = (*FIELDS, "steps")

    def __init__(self, prescription_id: str) -> None:
        for name, value in _DEFAULTS:
            setattr(self, name, value)
        self.prescription_id = prescription_id
        self.steps: list[tuple[int, str, str, datetime]] = []  # made into Steps only when asked

    def frozen(self) -> Prescription:
        history = tuple(Step(*step) for step in self.steps)
        return Prescription(**{name: getattr(self, name) for name in FIELDS}, history=history)


def why_void(track: Track, event: Envelope[Any], sources: tuple[Any, ...]) -> str | None:
    """lifecycle._why_void, asked only when an event may be void (sources: its rule's states)."""
    if event.type in PAYLOAD_RULES or event.stream_version != track.version + 1 or track.status not in sources:
        return _why_void(track, event)  # type: ignore[arg-type]
    return None


class Issued(NamedTuple):
    """What summary() shows of a prescription.issued: a lean fold keeps this, not the payload."""

    clinic_id: str
    doctor_id: str
    channel: Any
    valid_until: datetime


class Dispensed(NamedTuple):
    pharmacy_id: str


def absorb(track: Track, event: Envelope[Any], lean: bool = False) -> None:
    """What an applied event records (lifecycle._absorbed, in place; lean: what summary() shows,
    not whole payloads, which held to the end of a million events slow every step down)."""
    p, kind = event.payload, event.type
    if kind == "prescription.issued":
        track.issued = Issued(p.clinic_id, p.doctor_id, p.channel, p.valid_until) if lean else p
        track.issued_at = event.occurred_at
    elif kind in ("review.passed", "review.flagged"):
        track.review = None if lean else p
    elif kind == "prescription.claimed":
        track.claimed_by_pharmacy = p.pharmacy_id
    elif kind == "prescription.dispensed":
        track.dispensed = Dispensed(p.pharmacy_id) if lean else p
    elif kind == "prescription.released":
        track.claimed_by_pharmacy = None
    if kind == "delivery.requested":
        track.delivery_id = str(p.delivery_id)
    elif kind == "delivery.assigned":
        track.courier_id = p.courier_id
    if kind in ("prescription.approved", "prescription.rejected"):
        track.reviewer_id = p.reviewer_id
    if kind in REASONED and isinstance(p.reason, str):
        track.last_reason = p.reason


class StreamFold:
    """Every prescription's state, folded in log order from the events that occurred by as_of."""

    def __init__(self, as_of: datetime | None = None, observer: Observer | None = None, lean: bool = False) -> None:
        # lean: keep what summary() shows (see absorb), not each step (its states have no history).
        self.as_of, self.observer, self.lean = as_of, observer, lean
        self.tracks: dict[str, Track] = {}
        self.voids = 0

    def apply(self, event: Envelope[Any], line: int) -> None:
        """Fold one verified event (events outside the lifecycle, or after as_of, are skipped)."""
        rule = TRANSITIONS.get(event.type)
        if rule is None or (self.as_of is not None and event.occurred_at > self.as_of):
            return
        track = self.tracks.get(event.stream_id)
        if track is None:
            track = self.tracks[event.stream_id] = Track(event.stream_id)
        why = why_void(track, event, rule[0])
        if self.observer is not None:
            self.observer(track, event, why, line)
        if why is not None:
            self.voids += 1
            return
        track.version, track.status, track.updated_at = event.stream_version, rule[1], event.occurred_at
        if not self.lean:
            track.steps.append((event.stream_version, event.type, event.actor, event.occurred_at))
        absorb(track, event, self.lean)

    @property
    def states(self) -> dict[str, Prescription]:
        """The prescriptions that have begun (a stream whose every event was void has not)."""
        return {sid: t.frozen() for sid, t in self.tracks.items() if t.version}


def _time(value: datetime | None) -> str | None:
    return format_utc(value) if value else None


def summary(state: Prescription | Track) -> dict[str, Any]:
    """One prescription as a regulator reads it: where it stands and who had it."""
    issued, dispensed = state.issued, state.dispensed
    return {
        "prescription_id": state.prescription_id,
        "status": str(state.status) if state.status else None,
        "version": state.version,
        "issued_at": _time(state.issued_at),
        "updated_at": _time(state.updated_at),
        "clinic_id": issued.clinic_id if issued else None,
        "doctor_id": issued.doctor_id if issued else None,
        "channel": issued.channel.value if issued else None,
        "valid_until": _time(issued.valid_until) if issued else None,
        "reviewer_id": state.reviewer_id,
        "pharmacy_id": dispensed.pharmacy_id if dispensed else state.claimed_by_pharmacy,
        "courier_id": state.courier_id,
        "last_reason": state.last_reason,
    }


def summaries(fold: StreamFold) -> list[dict[str, Any]]:
    """Every prescription that has begun, in no particular order."""
    return [summary(t) for t in fold.tracks.values() if t.version]
