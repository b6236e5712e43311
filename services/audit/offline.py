"""The regulator's offline verifier: an export (or a reconstructed log) in, a verdict and figures out.

One process walks the structure (format, chain, offsets, checkpoints, tree heads) while one
worker per core verifies signatures and folds prescriptions; the results merge here, and the
first problem by position in the file is the one a regulator is shown.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import time
from array import array
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from events.fastverify import SignatureCheck, signature_ok
from services.audit.exportfile import Data
from services.audit.owners import Options, OwnerResult, owner_pass
from services.audit.problems import Problem, Problems
from services.audit.report import ReportAcc
from services.audit.structure import Checkpoint, Structure

_DATA: Data | None = None  # the export, inherited by forked workers instead of being pickled
_DONE: Any = None  # shared array: how far (in bytes) each worker has come


@dataclass
class Outcome:
    """Everything verify, replay and report print."""

    lines: int = 0
    entries: int = 0
    accepted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    checkpoints: list[Checkpoint] = field(default_factory=list)
    problems: Problems = field(default_factory=Problems)
    open_gaps: dict[str, list[list[int]]] = field(default_factory=dict)  # producer -> [low, high] runs
    producers: dict[str, int] = field(default_factory=dict)  # highest producer_seq seen
    voids: int = 0
    fast_hits: int = 0
    states: list[dict[str, Any]] = field(default_factory=list)
    report: ReportAcc | None = None
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # of this process and the workers: a rate that other load does not skew

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_problem(self) -> Problem | None:
        found = self.problems.sorted()
        return found[0] if found else None


def _owner_task(args: tuple[int, int, Options]) -> OwnerResult:
    worker, workers, options = args
    assert _DATA is not None
    return owner_pass(_DATA, worker, workers, options, progress=lambda at: _DONE.__setitem__(worker, at))


def verify_data(data: Data, options: Options, workers: int | None = None,
                check_signature: SignatureCheck = signature_ok, stop_early: bool = False,
                progress: Callable[[int, int], None] | None = None) -> Outcome:
    """Verify an export held in memory or mapped from a file; workers defaults to every core."""
    began, cpu = time.perf_counter(), cpu_time()
    workers = workers or os.cpu_count() or 1
    structure = Structure(options.keyring(), options.auditor, options.skew(), check_signature=check_signature)
    if workers == 1:
        structure.run(data, options.sealed, stop_early)
        until = structure.problems.sorted()[0].line if stop_early and structure.problems else None
        shown = (lambda at: progress(at, len(data))) if progress else None
        owners = [owner_pass(data, 0, 1, options, check_signature, until, shown)]
    else:
        owners = _in_parallel(data, options, workers, structure, progress)
    # A log verified only up to its first problem shows holes in the sequences that are not there.
    outcome = merge(structure, owners, sequences=not (stop_early and structure.problems))
    outcome.seconds, outcome.cpu_seconds = time.perf_counter() - began, cpu_time() - cpu
    return outcome


def cpu_time() -> float:
    """CPU seconds of this process and of its finished children (the workers, once the pool is closed)."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def _in_parallel(data: Data, options: Options, workers: int, structure: Structure,
                 progress: Callable[[int, int], None] | None) -> list[OwnerResult]:
    global _DATA, _DONE
    fork = multiprocessing.get_context("fork")
    _DATA, _DONE = data, fork.Array("q", workers, lock=False)
    try:  # fork: the workers share the mapped file; nothing big crosses a pipe but results
        with fork.Pool(workers) as pool:
            pending = pool.map_async(_owner_task, [(k, workers, options) for k in range(workers)])
            structure.run(data, options.sealed)
            while not pending.ready():
                if progress is not None:
                    progress(min(_DONE), len(data))
                pending.wait(0.25)
            return pending.get()
    finally:
        _DATA = _DONE = None


def merge(structure: Structure, owners: list[OwnerResult], sequences: bool = True) -> Outcome:
    """One outcome from the structure pass and every worker's share."""
    out = Outcome(lines=structure.lines, entries=structure.frontier.size, checkpoints=structure.checkpoints)
    out.problems.merge(structure.problems)
    seqs: dict[str, list[tuple[array, array]]] = {}  # producer -> (numbers, lines) of each worker
    for part in owners:
        out.problems.merge(part.problems)
        out.accepted += part.accepted
        out.rejected.update(part.rejected)
        out.voids += part.voids
        out.fast_hits += part.fast_hits
        out.states.extend(part.states)
        if part.report is not None:
            out.report = part.report if out.report is None else out.report.merge(part.report)
        for producer, pair in part.seqs.items():
            seqs.setdefault(producer, []).append(pair)
    for producer, parts in seqs.items() if sequences else ():
        numbers = array("q")
        for part_numbers, _ in parts:
            numbers.extend(part_numbers)
        if _complete(numbers):
            out.producers[producer] = len(numbers)
        else:
            _sequence(out, producer, sorted(pair for n, w in parts for pair in zip(w, n, strict=True)))
    return out


def _complete(numbers: array) -> bool:
    """Exactly 1..n, each once: what an honest log shows, found without sorting a million pairs."""
    return bool(numbers) and min(numbers) == 1 and max(numbers) == len(numbers) == len(set(numbers))


def _sequence(out: Outcome, producer: str, seen: list[tuple[int, int]]) -> None:
    """Per-producer numbers arrive interleaved across partitions: a duplicate is a replay, and a
    number still missing below the highest is a lost message (events.sequence.GapDetector)."""
    first_at: dict[int, int] = {}
    for line, number in seen:
        if number in first_at:
            out.problems.add(Problem(line, "sequence", f"{producer} producer_seq {number} again (first at line "
                                     f"{first_at[number] + 1}): a message was replayed"))
        else:
            first_at[number] = line
    present = sorted(first_at)
    out.producers[producer] = present[-1]
    # Holes between consecutive numbers seen (also from 0 up to the first): no enumeration of the
    # missing numbers, so a signed but absurd producer_seq cannot exhaust memory.
    runs = [(low + 1, high - 1) for low, high in zip([0, *present], present, strict=False) if high > low + 1]
    if runs:
        out.open_gaps[producer] = [[low, top] for low, top in runs]
    for low, top in runs:  # top + 1 was seen: it is where the loss shows
        span = f"{low}..{top}" if top > low else str(low)
        out.problems.add(Problem(first_at[top + 1], "sequence",
                                 f"{producer} producer_seq {span} missing before {top + 1}: messages were lost"))
