"""The parallel half of verifying an export: each worker checks the messages of its own prescriptions.

Lines are dealt out by stream, so a worker holds every event of its prescriptions and can fold
them; every worker also reads every key event, in log order, so each one knows the keys that
were valid at every point of the log (events.replay.verify_log semantics).
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from events.fastverify import FastVerifier, SignatureCheck, signature_ok
from events.keyring import Keyring
from events.signing import load_public_key
from events.verifier import Accepted, Rejected
from services.audit.exportfile import (
    Data,
    claim_problem,
    claims_key_event,
    decode_message,
    lines,
    load_record,
    no_gc,
    owner,
    parse_time,
    shape_problem,
)
from services.audit.folding import StreamFold, summaries
from services.audit.ledger import AUDITOR
from services.audit.problems import Problem, Problems
from services.audit.report import ReportAcc

BATCH = 128  # messages checked together (see FastVerifier.verify_batch)


@dataclass(frozen=True)
class Options:
    """What a regulator verifies against; picklable, so every worker gets the same."""

    root_key_id: str
    root_public_key: str  # base64url, as in root.pub
    auditor: str = AUDITOR
    max_clock_skew_s: float | None = 600.0
    sealed: bool = True  # an export must end with a checkpoint; a live topic may have a fresh tail
    allow_rejected: bool = False  # refused messages kept with their reason are not failures
    fold: str | None = None  # None, "replay" or "report"
    as_of: datetime | None = None

    def keyring(self) -> Keyring:
        return Keyring(self.root_key_id, load_public_key(self.root_public_key))

    def skew(self) -> timedelta | None:
        return None if self.max_clock_skew_s is None else timedelta(seconds=self.max_clock_skew_s)


@dataclass
class OwnerResult:
    problems: Problems = field(default_factory=Problems)
    accepted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    fast_hits: int = 0
    seqs: dict[str, tuple[array, array]] = field(default_factory=dict)  # producer -> (seqs, lines)
    voids: int = 0
    states: list[dict[str, Any]] = field(default_factory=list)
    report: ReportAcc | None = None


def owner_pass(data: Data, worker: int, workers: int, options: Options,
               check_signature: SignatureCheck = signature_ok, until: int | None = None,
               progress: Callable[[int], None] | None = None) -> OwnerResult:
    """Verify the messages of this worker's lines (all of them when workers == 1)."""
    with no_gc():
        return _owner_pass(data, worker, workers, options, check_signature, until, progress)


def _owner_pass(data: Data, worker: int, workers: int, options: Options, check_signature: SignatureCheck,
                until: int | None, progress: Callable[[int], None] | None) -> OwnerResult:
    verifier = FastVerifier(options.keyring(), options.skew(), check_signature=check_signature)
    out = OwnerResult(report=ReportAcc() if options.fold == "report" else None)
    # A replay keeps only what its summaries show (see StreamFold): a million events' history
    # would otherwise be held to the end, and the memory it takes slows every step.
    fold = (StreamFold(options.as_of, out.report.observe if out.report else None, lean=options.fold == "replay")
            if options.fold else None)
    items: list[tuple[bytes, datetime | None]] = []  # what verify_batch takes, and beside it
    claims: list[tuple[int, dict[str, Any]]] = []  # where each one is and what its entry says

    def flush() -> None:
        for (index, obj), result in zip(claims, verifier.verify_batch(items), strict=True):
            _judge(out, index, obj, result, options, fold)
        items.clear()
        claims.clear()

    for index, start, end in lines(data):
        if until is not None and index > until:
            break
        if progress is not None and not index & 1023:
            progress(start)
        mine = owner(data, index, start, end, workers) == worker
        key_event = claims_key_event(data, start, end)
        if not mine and not key_event:
            continue
        obj = load_record(data[start:end])
        if not obj or obj.get("kind") != "entry" or shape_problem(obj):
            continue  # not an entry, or a malformed one: the structure pass names it
        raw = decode_message(obj["message"], canonical=False)
        at = parse_time(obj["log_time"]) if obj["log_time"] else None
        why = "message is not base64" if raw is None else claim_problem(obj, at) if mine else None
        if why:
            if mine:
                out.problems.add(Problem(index, "format", why, obj["seq"]))
            continue
        if not key_event:
            items.append((raw, at))  # type: ignore[arg-type]
            claims.append((index, obj))
            if len(items) == BATCH:
                flush()
            continue
        flush()  # every worker learns every key, in log order, before what follows is checked
        result = verifier.verify_batch([(raw, at)])[0]  # type: ignore[list-item]
        if mine:
            _judge(out, index, obj, result, options, fold)
    flush()
    out.fast_hits = verifier.fast_hits
    if fold is not None:
        out.voids = fold.voids
        if out.report is not None:
            out.report.finish(fold)
        elif options.fold == "replay":
            out.states = summaries(fold)
    return out


def _judge(out: OwnerResult, index: int, obj: dict[str, Any], result: Accepted | Rejected,
           options: Options, fold: StreamFold | None) -> None:
    """The verdict against what the entry claims (obj passed shape_problem: every field is there)."""
    if type(result) is not Accepted:
        _refused(out, index, obj, result, options)  # type: ignore[arg-type]
        return
    event = result.event
    out.accepted += 1
    if (obj["verdict"] != "accepted" or obj["reason"] is not None or obj["stream"] != event.stream_id
            or obj["type"] != event.type):
        out.problems.add(Problem(index, "verdict", f"the ledger says {obj['verdict']} {obj['type']} of "
                                 f"{obj['stream']}, but the message is an accepted {event.type} of {event.stream_id}",
                                 obj["seq"]))
    seen = out.seqs.get(event.producer)
    if seen is None:
        seen = out.seqs[event.producer] = (array("q"), array("q"))
    seen[0].append(event.producer_seq)
    seen[1].append(index)
    if fold is not None:
        fold.apply(event, index)


def _refused(out: OwnerResult, index: int, obj: dict[str, Any], result: Rejected, options: Options) -> None:
    out.rejected[result.reason.value] += 1
    if (obj["verdict"], obj["reason"]) != ("rejected", result.reason.value):
        out.problems.add(Problem(index, "verdict", f"the ledger says {obj['verdict']}, but the message is rejected: "
                                 f"{result.describe()}", obj["seq"]))
    elif not options.allow_rejected:
        out.problems.add(Problem(index, "rejected", result.describe(), obj["seq"]))
