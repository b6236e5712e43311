"""Notice offsets a consumer never received.

Our topics are neither compacted nor transactional, so a partition's offsets are contiguous:
a record whose offset jumps past the next expected one means records in between were never
delivered to this consumer (a broker or client fault), and the offsets committed after it
would skip them for good. It is logged and counted on /health; the audit service's
producer_seq gap detection is the end-to-end check that the events themselves are all there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Hole:
    topic: str
    partition: int
    expected: int  # the first offset never received
    got: int  # the offset that came instead

    def describe(self) -> str:
        return f"{self.topic}/{self.partition}: offsets {self.expected}..{self.got - 1} never received"


@dataclass
class OffsetWatch:
    """The next offset expected per partition, from the records received in this process."""

    next: dict[tuple[str, int], int] = field(default_factory=dict)
    holes: list[Hole] = field(default_factory=list)

    def received(self, records: Iterable[Any]) -> list[Hole]:
        """Record a batch (objects with topic, partition, offset); return the holes it shows.

        Offsets lower than expected are redeliveries (a rewind after a failed batch): not holes.
        The first batch of a partition is not checked: it starts at the committed offset.
        """
        found = []
        for r in sorted(records, key=lambda r: (r.topic, r.partition, r.offset)):
            key = (r.topic, r.partition)
            expected = self.next.get(key)
            if expected is not None and r.offset > expected:
                found.append(Hole(r.topic, r.partition, expected, r.offset))
            self.next[key] = max(expected or 0, r.offset + 1)
        self.holes.extend(found)
        return found
