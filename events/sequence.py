"""Producer sequences: every producer numbers its envelopes 1, 2, 3 ... so a loss is noticed."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class SeqProblem(StrEnum):
    GAP = "gap"  # numbers were skipped: messages lost, or not yet arrived
    DUPLICATE = "duplicate"  # a number seen before: a redelivery, or a replayed message
    REGRESSION = "regression"  # a number lower than the last, not seen before: reordering


@dataclass(frozen=True)
class SeqIssue:
    producer: str
    problem: SeqProblem
    expected: int
    got: int

    def describe(self) -> str:
        """A sentence for reports and logs."""
        if self.problem is SeqProblem.GAP:
            missing = f"{self.expected}..{self.got - 1}" if self.got - 1 > self.expected else self.expected
            return f"{self.producer}: producer_seq {missing} missing before {self.got}"
        return f"{self.producer}: producer_seq {self.got} {self.problem.value} (expected {self.expected})"


@dataclass
class ProducerSequence:
    """In-memory allocator for one producer; the services keep theirs in SQL."""

    producer: str
    last: int = 0

    def next(self) -> int:
        """The next number, starting at 1."""
        self.last += 1
        return self.last


@dataclass
class _Watermarks:
    low: int = 0  # 1..low all seen
    high: int = 0  # highest seen
    above: set[int] = field(default_factory=set)  # seen numbers in (low, high]


@dataclass
class GapDetector:
    """Watches producer_seq per producer and reports gaps, duplicates and regressions.

    Memory stays bounded by how far out of order numbers arrive, not by the log's length.
    """

    _marks: dict[str, _Watermarks] = field(default_factory=dict)

    def observe(self, producer: str, seq: int) -> SeqIssue | None:
        """Record one envelope's number; return what is wrong with it, if anything."""
        marks = self._marks.setdefault(producer, _Watermarks())
        if seq <= marks.low or seq in marks.above:
            return SeqIssue(producer, SeqProblem.DUPLICATE, marks.high + 1, seq)
        marks.above.add(seq)
        while marks.low + 1 in marks.above:
            marks.low += 1
            marks.above.discard(marks.low)
        if seq < marks.high:  # a late arrival filling an earlier gap
            return SeqIssue(producer, SeqProblem.REGRESSION, marks.high + 1, seq)
        expected, marks.high = marks.high + 1, seq
        if seq != expected:
            return SeqIssue(producer, SeqProblem.GAP, expected, seq)
        return None

    def last_seen(self, producer: str) -> int:
        """Highest number seen from this producer (0 for none)."""
        marks = self._marks.get(producer)
        return marks.high if marks else 0

    def open_gaps(self) -> dict[str, list[int]]:
        """Numbers still missing per producer, below the highest one seen."""
        gaps = {}
        for producer, m in self._marks.items():
            missing = [n for n in range(m.low + 1, m.high) if n not in m.above]
            if missing:
                gaps[producer] = missing
        return gaps
