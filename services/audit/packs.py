"""Packs across prescriptions: each drug pack carries its own trace code (药品追溯码), and a
pack leaves the pharmacies once (一码一用). A code dispensed on a second prescription while the
first still holds it is one pack sold twice: a scanning slip, or drugs back in circulation
(回流药). A returned delivery puts its packs back on the shelf, free to be dispensed again. An
opened pack (拆零) goes out in parts, each with its code: split dispenses may share a code.

The pharmacy service refuses a reused code it knows of; this finds what reached the log anyway
(two sites that were offline, a pharmacy's own software). Workers fold disjoint prescriptions,
so each keeps the codes it saw and the verdict is drawn once they merge. Across prescriptions
there is no log order (they lie on different partitions), so the signed times order the
dispenses and returns, the line only breaks ties.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from events.envelope import Envelope
from events.schemas import format_utc, packs_of


@dataclass(frozen=True, slots=True)
class PackUse:
    """One dispense of one pack: where on the log, which prescription, who."""

    line: int
    prescription_id: str
    event_id: str
    actor: str
    occurred_at: str  # format_utc: fixed width, so it sorts as the times do
    pharmacy_id: str
    split: bool = False  # from an opened pack (拆零), whose code later split dispenses share


@dataclass(frozen=True)
class Reuse:
    trace_code: str
    holder: PackUse  # the prescription the pack had left on
    again: PackUse


@dataclass
class PackLedger:
    uses: dict[str, list[PackUse]] = field(default_factory=dict)  # trace code -> dispenses
    returned: dict[str, str] = field(default_factory=dict)  # prescription id -> when it came back

    def dispensed(self, event: Envelope[Any], line: int) -> None:
        p = event.payload
        whole, split = (PackUse(line, event.stream_id, str(event.event_id), event.actor,
                                format_utc(event.occurred_at), p.pharmacy_id, opened) for opened in (False, True))
        for code, opened in packs_of(p.lines).items():
            self.uses.setdefault(code, []).append(split if opened else whole)

    def came_back(self, event: Envelope[Any]) -> None:
        self.returned[event.stream_id] = format_utc(event.occurred_at)

    def merge(self, other: PackLedger) -> PackLedger:
        for code, uses in other.uses.items():
            self.uses.setdefault(code, []).extend(uses)
        self.returned.update(other.returned)
        return self

    def reuses(self) -> Iterator[Reuse]:
        """Every dispense of a pack that another prescription still held, in time order."""
        for code, uses in self.uses.items():
            if len(uses) < 2:
                continue
            ordered = sorted(uses, key=lambda u: (u.occurred_at, u.line))
            holder = ordered[0]
            for use in ordered[1:]:
                if use.prescription_id == holder.prescription_id or (holder.split and use.split):
                    continue  # one prescription dispensed twice (reported as such), or parts of an opened pack
                back = self.returned.get(holder.prescription_id)
                if back is None or back > use.occurred_at:
                    yield Reuse(code, holder, use)
                else:
                    holder = use  # the pack had come back; this prescription holds it now
