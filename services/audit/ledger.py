"""The ledger, pure: log records in, hash-chained entries and signed checkpoints out (docs/audit-format.md).

The service, the Kafka reconstruction and the synthetic logs all build entries here, so the
bytes a regulator re-derives from Kafka are the bytes the service hashed.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from events.fastverify import FastVerifier
from events.keyring import Keyring
from events.rejection import Rejected
from events.schemas import AuditCheckpoint, LedgerSource, format_utc
from events.seal import seal
from events.sequence import GapDetector
from events.signing import Signer
from services.audit.merkle import MerkleTree, leaf_hash

ZERO_HASH = "0" * 64
KEYS_TOPIC = "rx.keys"
CHECKPOINT_STREAM = "ledger"
AUDITOR = "svc-audit"
# JSON of ASCII keys, small integers and strings: Python's compact sorted form is RFC 8785.
ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class LogRecord:
    """One message as the broker holds it."""

    topic: str
    partition: int
    offset: int
    log_time: datetime | None
    raw: bytes


@dataclass(frozen=True)
class Verdict:
    """What the ledger says of a message; stream and type only for accepted ones."""

    accepted: bool
    reason: str | None = None
    detail: str = ""
    stream: str | None = None
    type: str | None = None
    producer: str | None = None
    producer_seq: int | None = None
    event_id: str | None = None


@dataclass(frozen=True)
class Appended:
    seq: int
    record: LogRecord
    verdict: Verdict
    line: bytes  # the entry's exact bytes, hashed into the tree
    leaf: bytes


def encode_entry(seq: int, rec: LogRecord, verdict: Verdict, prev: str) -> bytes:
    """The canonical JSON line of one ledger entry."""
    return ENCODER.encode({
        "kind": "entry", "seq": seq, "prev": prev, "topic": rec.topic, "partition": rec.partition,
        "offset": rec.offset, "log_time": format_utc(rec.log_time) if rec.log_time else None,
        "verdict": "accepted" if verdict.accepted else "rejected", "reason": verdict.reason,
        "stream": verdict.stream, "type": verdict.type, "message": base64.b64encode(rec.raw).decode(),
    }).encode()


def encode_checkpoint(raw: bytes) -> bytes:
    """The canonical JSON line that carries a signed checkpoint in an export."""
    return ENCODER.encode({"kind": "checkpoint", "message": base64.b64encode(raw).decode()}).encode()


def source_rank(keys_topic: str) -> Callable[[tuple[str, int]], tuple[int, str, int]]:
    """Key events first in every batch, so a key registered with its first use is known in time."""
    return lambda source: (source[0] != keys_topic, source[0], source[1])


def judge(verifier: FastVerifier, records: list[LogRecord]) -> list[Verdict]:
    """Verify records in order, learning the keys of key events as they come (events.replay.verify_log)."""
    out = []
    results = (r for at in range(0, len(records), 512)  # a bounded batch at a time
               for r in verifier.verify_batch([(rec.raw, rec.log_time) for rec in records[at:at + 512]]))
    for result in results:
        if isinstance(result, Rejected):
            out.append(Verdict(False, result.reason.value, result.detail, event_id=result.event_id))
            continue
        e = result.event
        out.append(Verdict(True, None, "", e.stream_id, e.type, e.producer, e.producer_seq, str(e.event_id)))
    return out


@dataclass
class Ledger:
    """Ledger state: where the chain ends, the tree, what each source has covered, the keys learned."""

    keyring: Keyring
    max_clock_skew: Any = None
    keys_topic: str = KEYS_TOPIC
    tree: MerkleTree = field(default_factory=MerkleTree)
    prev: str = ZERO_HASH
    next_offsets: dict[tuple[str, int], int] = field(default_factory=dict)
    gaps: GapDetector = field(default_factory=GapDetector)
    checkpoints: int = 0

    def __post_init__(self) -> None:
        self.verifier = FastVerifier(self.keyring, max_clock_skew=self.max_clock_skew)

    @property
    def size(self) -> int:
        return len(self.tree)

    def order(self, records: Iterable[LogRecord]) -> list[LogRecord]:
        """A batch in ledger order: sources in checkpoint order, each by offset."""
        rank = source_rank(self.keys_topic)
        return sorted(records, key=lambda r: (rank((r.topic, r.partition)), r.offset))

    def append_batch(self, records: Iterable[LogRecord], decide: Callable[[LogRecord], Verdict] | None = None,
                     ) -> list[Appended]:
        """Append a batch in ledger order; decide defaults to verifying each message."""
        ordered = self.order(records)
        verdicts = [decide(rec) for rec in ordered] if decide else judge(self.verifier, ordered)
        return [self.append(rec, verdict) for rec, verdict in zip(ordered, verdicts, strict=True)]

    def append(self, rec: LogRecord, verdict: Verdict) -> Appended:
        """Chain one entry on; callers keep batches in ledger order."""
        seq = self.size
        line = encode_entry(seq, rec, verdict, self.prev)
        leaf = leaf_hash(line)
        self.tree.append(leaf)
        self.prev = leaf.hex()
        source = (rec.topic, rec.partition)
        self.next_offsets[source] = max(self.next_offsets.get(source, 0), rec.offset + 1)
        if verdict.accepted and verdict.producer and verdict.producer_seq:
            self.gaps.observe(verdict.producer, verdict.producer_seq)
        return Appended(seq, rec, verdict, line, leaf)

    def sources(self) -> tuple[LedgerSource, ...]:
        """Every source read so far, in ledger order, with the offset covered up to."""
        ordered = sorted(self.next_offsets, key=source_rank(self.keys_topic))
        return tuple(LedgerSource(topic=t, partition=p, next_offset=self.next_offsets[(t, p)]) for t, p in ordered)

    def checkpoint(self, signer: Signer, now: datetime) -> bytes:
        """Sign the current tree head (the caller does this right after a batch)."""
        self.checkpoints += 1
        payload = AuditCheckpoint(tree_size=self.size, root_hash=self.tree.root().hex(), timestamp=now,
                                  sources=self.sources())
        return seal(payload, stream_id=CHECKPOINT_STREAM, stream_version=self.checkpoints, producer="audit",
                    signer=signer, producer_seq=self.checkpoints, occurred_at=now)
