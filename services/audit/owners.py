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

from events.keyring import Keyring
from events.schemas import KeyRegistered, KeyRevoked
from events.signing import load_public_key, verify_signature
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
from services.audit.fastverify import FastVerifier, SignatureCheck
from services.audit.folding import StreamFold, summaries
from services.audit.ledger import AUDITOR
from services.audit.problems import Problem, Problems
from services.audit.report import ReportAcc


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
               check_signature: SignatureCheck = verify_signature, until: int | None = None,
               progress: Callable[[int], None] | None = None) -> OwnerResult:
    """Verify the messages of this worker's lines (all of them when workers == 1)."""
    with no_gc():
        return _owner_pass(data, worker, workers, options, check_signature, until, progress)


def _owner_pass(data: Data, worker: int, workers: int, options: Options, check_signature: SignatureCheck,
                until: int | None, progress: Callable[[int], None] | None) -> OwnerResult:
    keyring = options.keyring()
    verifier = FastVerifier(keyring, options.skew(), check_signature=check_signature)
    out = OwnerResult(report=ReportAcc() if options.fold == "report" else None)
    fold = StreamFold(options.as_of, out.report.observe if out.report else None) if options.fold else None
    for index, start, end in lines(data):
        if until is not None and index > until:
            break
        if progress is not None and not index & 1023:
            progress(start)
        mine = owner(data, index, start, end, workers) == worker
        if not mine and not claims_key_event(data, start, end):
            continue
        obj = load_record(data[start:end])
        if not obj or obj.get("kind") != "entry" or shape_problem(obj):
            continue  # not an entry, or a malformed one: the structure pass names it
        raw = decode_message(obj["message"], canonical=False)
        why = "message is not base64" if raw is None else claim_problem(obj) if mine else None
        if why:
            if mine:
                out.problems.add(Problem(index, "format", why, obj["seq"]))
            continue
        result = verifier.verify(raw, parse_time(obj["log_time"]))  # type: ignore[arg-type]
        if isinstance(result, Accepted) and isinstance(result.event.payload, KeyRegistered | KeyRevoked):
            keyring.apply(result.event.payload)
        if mine:
            _judge(out, index, obj, result, options, fold)
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
    seq = obj.get("seq") if type(obj.get("seq")) is int else None
    claim = (obj.get("verdict"), obj.get("reason"), obj.get("stream"), obj.get("type"))
    if isinstance(result, Rejected):
        out.rejected[result.reason.value] += 1
        if claim[:2] != ("rejected", result.reason.value):
            out.problems.add(Problem(index, "verdict", f"the ledger says {claim[0]}, but the message is rejected: "
                                     f"{result.describe()}", seq))
        elif not options.allow_rejected:
            out.problems.add(Problem(index, "rejected", result.describe(), seq))
        return
    event = result.event
    out.accepted += 1
    if claim != ("accepted", None, event.stream_id, event.type):
        out.problems.add(Problem(index, "verdict", f"the ledger says {claim[0]} {claim[3]} of {claim[2]}, but the "
                                 f"message is an accepted {event.type} of {event.stream_id}", seq))
    seqs, where = out.seqs.setdefault(event.producer, (array("q"), array("q")))
    seqs.append(event.producer_seq)
    where.append(index)
    if fold is not None:
        fold.apply(event, index)
