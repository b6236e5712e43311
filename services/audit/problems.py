"""What a regulator is told: problems, each at a line of the export, the first ones kept in full."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(frozen=True, order=True)
class Problem:
    """Something wrong at one line of the export (0-based), with the entry's seq when known."""

    line: int
    kind: str  # format, chain, offset, checkpoint, verdict, rejected, sequence
    detail: str
    seq: int | None = None

    def describe(self) -> str:
        """One line a regulator can act on."""
        where = f"line {self.line + 1}" + (f" (entry {self.seq})" if self.seq is not None else "")
        return f"{where}: {self.kind}: {self.detail}"


@dataclass
class Problems:
    """The first few problems in full and a count of all, so a ruined log does not flood memory."""

    keep: int = 20
    first: list[Problem] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)

    def add(self, problem: Problem) -> None:
        self.counts[problem.kind] += 1
        self.first.append(problem)
        if len(self.first) > 4 * self.keep:
            self.first = sorted(self.first, key=_rank)[:self.keep]

    def merge(self, other: Problems) -> None:
        self.counts.update(other.counts)
        self.first = sorted([*self.first, *other.first], key=_rank)[:self.keep]

    def sorted(self) -> list[Problem]:
        """Problems of entries in line order, then sequence gaps in line order."""
        return sorted(self.first, key=_rank)[:self.keep]

    def __len__(self) -> int:
        return sum(self.counts.values())


def _rank(problem: Problem) -> tuple[bool, Problem]:
    # A sequence gap is pinned at the line of the number after the hole, and producer numbers
    # do not follow line order (a producer's partitions interleave in the ledger as they were
    # consumed): an entry refused later in the file can open a gap that shows at an earlier
    # line. Reporting that gap first named the wrong "first bad entry" (seen once under load,
    # when the interleaving differed). The entry itself is the cause; its gap comes after it.
    return problem.kind == "sequence", problem
