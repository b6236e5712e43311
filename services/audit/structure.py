"""The sequential half of verifying an export: format, hash chain, offsets, checkpoints and tree heads.

It costs a JSON parse and a hash per line, so one process keeps up with the workers that check
signatures; it learns keys from key events (to check the auditor's signature) and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from events.fastverify import FastVerifier, SignatureCheck, signature_ok
from events.keyring import Keyring
from events.schemas import AuditCheckpoint
from events.verifier import Accepted
from services.audit.exportfile import (
    CHECKPOINT_FIELDS,
    Data,
    decode_message,
    lines,
    load_record,
    no_gc,
    parse_time,
    shape_problem,
)
from services.audit.ledger import AUDITOR, CHECKPOINT_STREAM, ENCODER, ZERO_HASH
from services.audit.merkle import Frontier, leaf_hash
from services.audit.problems import Problem, Problems


@dataclass
class Checkpoint:
    line: int
    number: int
    tree_size: int
    root_hash: str
    timestamp: datetime
    raw: bytes


@dataclass
class Structure:
    """Walks the export line by line; problems name the first line where the story breaks."""

    keyring: Keyring
    auditor: str = AUDITOR
    skew: Any = None
    check_signature: SignatureCheck = signature_ok
    problems: Problems = field(default_factory=Problems)
    frontier: Frontier = field(default_factory=Frontier)
    prev: str = ZERO_HASH
    next_offsets: dict[tuple[str, int], int] = field(default_factory=dict)
    batch: list[tuple[str, int]] = field(default_factory=list)
    checkpoints: list[Checkpoint] = field(default_factory=list)
    lines: int = 0

    def __post_init__(self) -> None:
        self.keys = FastVerifier(self.keyring, max_clock_skew=self.skew, check_signature=self.check_signature)
        # A checkpoint's own time is its signed timestamp; the broker's time is not in the export.
        self.signed = FastVerifier(self.keyring, max_clock_skew=None, check_signature=self.check_signature)

    def run(self, data: Data, sealed: bool = True, stop_early: bool = False,
            progress: Callable[[int, int], None] | None = None) -> Structure:
        """Check every line; sealed means the export must end with a checkpoint over every entry."""
        with no_gc():
            return self._run(data, sealed, stop_early, progress)

    def _run(self, data: Data, sealed: bool, stop_early: bool,
             progress: Callable[[int, int], None] | None) -> Structure:
        for index, start, end in lines(data, self.problems):
            self.lines = index + 1
            self.line(index, data[start:end])
            if stop_early and self.problems:
                return self
            if progress is not None and not index & 4095:
                progress(end, len(data))
        self.finish(sealed)
        return self

    def add(self, line: int, kind: str, detail: str, seq: int | None = None) -> None:
        self.problems.add(Problem(line, kind, detail, seq))

    def line(self, index: int, line: bytes) -> None:
        obj = load_record(line)
        kind = obj.get("kind") if obj else None
        if kind == "entry":
            self.entry(index, obj, line)  # type: ignore[arg-type]
        elif kind == "checkpoint":
            self.checkpoint(index, obj, line)  # type: ignore[arg-type]
        else:
            self.add(index, "format", "not a ledger record (an entry or a checkpoint)")

    def entry(self, index: int, obj: dict[str, Any], line: bytes) -> None:
        seq = self.frontier.size
        leaf = leaf_hash(line)
        self.frontier.append(leaf)  # a bad line still counts, so later lines keep their numbers
        prev, self.prev = self.prev, leaf.hex()
        why = shape_problem(obj)
        if why:
            return self.add(index, "format", why, seq)
        if obj["seq"] != seq:
            self.add(index, "chain", f"seq {obj['seq']}, expected {seq} (an entry was removed, added or moved)", seq)
        elif obj["prev"] != prev:
            self.add(index, "chain", f"prev is not the hash of entry {seq - 1} (one of the two was changed)", seq)
        source = (obj["topic"], obj["partition"])
        expected = self.next_offsets.get(source, 0)
        if obj["offset"] != expected:
            self.add(index, "offset", f"{source[0]}/{source[1]} offset {obj['offset']}, expected {expected} "
                     "(a message of the log is missing from the ledger, or repeated)", seq)
        self.next_offsets[source] = obj["offset"] + 1
        self.batch.append(source)
        if obj["verdict"] == "accepted" and str(obj["type"]).startswith("key."):
            result = self.keys.verify(decode_message(obj["message"], False) or b"", parse_time(obj["log_time"]))
            if isinstance(result, Accepted):
                self.keyring.apply(result.event.payload)

    def checkpoint(self, index: int, obj: dict[str, Any], line: bytes) -> None:
        raw = decode_message(obj.get("message"))
        if obj.keys() != CHECKPOINT_FIELDS or raw is None or ENCODER.encode(obj).encode() != line:
            return self.add(index, "format", "a checkpoint line must be canonical JSON with kind and base64 message")
        result = self.signed.verify(raw)
        if not isinstance(result, Accepted):
            return self.add(index, "checkpoint", f"does not verify: {result.describe()}")
        event, cp = result.event, result.event.payload
        if not isinstance(cp, AuditCheckpoint) or event.actor != self.auditor:
            return self.add(index, "checkpoint", f"{event.type} signed by {event.actor} is not a checkpoint of "
                            f"{self.auditor}")
        # Signed by the auditor: it counts, even if it disagrees with the entries, so one bad
        # batch is reported once and not again at every later checkpoint.
        number = self.checkpoints[-1].number + 1 if self.checkpoints else 1
        why = self._mismatch(event, cp, number)
        self.checkpoints.append(Checkpoint(index, event.stream_version, cp.tree_size, cp.root_hash, cp.timestamp, raw))
        self.batch.clear()
        if why:
            self.add(index, "checkpoint", why)

    def _mismatch(self, event: Any, cp: AuditCheckpoint, number: int) -> str | None:
        if (event.stream_id, event.stream_version, event.producer_seq) != (CHECKPOINT_STREAM, number, number):
            return f"checkpoint number {event.stream_version}, expected {number} (a checkpoint was removed or added)"
        if cp.tree_size != self.frontier.size:
            return f"covers {cp.tree_size} entries, but {self.frontier.size} precede it"
        if cp.root_hash != self.frontier.root().hex():
            return f"root hash {cp.root_hash[:16]}… does not match the entries before it (they were changed)"
        if self.checkpoints and cp.timestamp < self.checkpoints[-1].timestamp:
            return "its timestamp is earlier than the previous checkpoint's"
        listed = {(s.topic, s.partition): s.next_offset for s in cp.sources}
        if any(listed.get(s, 0) != n for s, n in self.next_offsets.items()) or set(listed) - set(self.next_offsets):
            return f"its sources {listed} do not match the offsets the entries reached {self.next_offsets}"
        rank = {source: i for i, source in enumerate(listed)}
        ranks = [rank[s] for s in self.batch]
        if ranks != sorted(ranks):
            return "the entries since the previous checkpoint are not in the order of its sources"
        return None

    def finish(self, sealed: bool) -> None:
        covered = self.checkpoints[-1].tree_size if self.checkpoints else 0
        if self.frontier.size == 0:
            self.add(self.lines, "format", "the log holds no entries")
        elif sealed and covered < self.frontier.size:
            self.add(max(0, self.lines - 1), "checkpoint", f"the log ends, but entries {covered}.."
                     f"{self.frontier.size - 1} are not covered by a signed checkpoint (its end was cut off or "
                     "changed)", covered)
