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
            self.first = sorted(self.first)[:self.keep]

    def merge(self, other: Problems) -> None:
        self.counts.update(other.counts)
        self.first = sorted([*self.first, *other.first])[:self.keep]

    def sorted(self) -> list[Problem]:
        return sorted(self.first)[:self.keep]

    def __len__(self) -> int:
        return sum(self.counts.values())
