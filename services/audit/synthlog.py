"""Whole synthetic logs: journeys interleaved in time, numbered per producer, sealed, laid out
on partitions, then written as a ledger export (entries, and a signed checkpoint per batch).

Sealing dominates the cost, so planning and sealing run on every core when asked to.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import IO
from uuid import UUID

from events.authority import AUTHORITY
from events.fastverify import fast_canonical
from events.identities import Identities, load_identities, load_root_public_key
from events.seal import unsigned_envelope
from events.signing import Signer
from services.audit.ledger import AUDITOR, KEYS_TOPIC, Ledger, LogRecord, Verdict, encode_checkpoint
from services.audit.synth import T0, journey

EVENTS_TOPIC, PARTITIONS = "rx.events", 3
SPACING = timedelta(seconds=36)  # between two prescriptions' first events

Planned = tuple[float, int, int, str, str, str, float]  # (at, journey, step, type, actor, producer, start)
_ids: Identities | None = None


def event_id(n: int, step: int) -> UUID:
    """Deterministic ids, so the same arguments give the same log."""
    return UUID(bytes=hashlib.sha256(f"event-{n}-{step}".encode()).digest()[:16], version=4)


@cache
def _steps(n: int, start: float) -> list:  # type: ignore[type-arg]
    return journey(n, datetime.fromtimestamp(start, T0.tzinfo))


def plan_range(first: int, last: int, spacing_s: float = SPACING.total_seconds()) -> list[Planned]:
    """The steps of journeys first..last-1, with their times (epoch seconds)."""
    out = []
    for n in range(first, last):
        start = T0 + timedelta(seconds=n * spacing_s)
        at = start
        for i, step in enumerate(journey(n, start)):
            at += timedelta(minutes=step.minutes)
            out.append((at.timestamp(), n, i, step.payload.TYPE, step.actor, AUTHORITY[step.payload.TYPE].producer,
                        start.timestamp()))
    return out


def seal_fast(payload, *, stream_id, stream_version, producer, signer: Signer, producer_seq, occurred_at,  # type: ignore[no-untyped-def]
              event_id=None) -> bytes:
    """events.seal.seal, byte for byte, with the fast canonical encoder."""
    env = unsigned_envelope(payload, stream_id=stream_id, stream_version=stream_version, producer=producer,
                            signer=signer, producer_seq=producer_seq, occurred_at=occurred_at, event_id=event_id)
    return fast_canonical({**env, "signature": signer.sign(fast_canonical(env))})


def _init(keys_dir: str) -> None:
    global _ids
    _ids = load_identities(Path(keys_dir))


def seal_chunk(chunk: list[tuple[Planned, int]]) -> list[bytes]:
    """Seal planned steps, each with its producer_seq (runs in a worker after _init)."""
    assert _ids is not None
    out = []
    for (at, n, i, _type, actor, producer, start), seq in chunk:
        step = _steps(n, start)[i]
        out.append(seal_fast(step.payload, stream_id=str(step.payload.prescription_id), stream_version=i + 1,
                             producer=producer, signer=_ids.signer(actor), producer_seq=seq,
                             occurred_at=datetime.fromtimestamp(at, T0.tzinfo), event_id=event_id(n, i)))
    _steps.cache_clear()
    return out


def plan_log(events: int, pool: ProcessPoolExecutor | None, spacing: timedelta = SPACING,
             ) -> list[tuple[Planned, int]]:
    """Enough journeys for about `events` events, in time order, numbered per producer."""
    journeys = max(1, events // 4 + 8)  # journeys average 6 to 7 steps; the surplus is cut
    ranges = [(a, min(a + 2000, journeys), spacing.total_seconds()) for a in range(0, journeys, 2000)]
    parts = pool.map(plan_range, *zip(*ranges, strict=True)) if pool else (plan_range(*r) for r in ranges)
    steps = sorted(s for part in parts for s in part)[:events]
    seqs: dict[str, int] = {}
    numbered = []
    for step in steps:
        seqs[step[5]] = seqs.get(step[5], 0) + 1
        numbered.append((step, seqs[step[5]]))
    return numbered


def records(keys: list[bytes], planned: list[tuple[Planned, int]], sealed: list[bytes]) -> Iterator[LogRecord]:
    """The broker's view: key events on rx.keys, then events by stream key on rx.events' partitions."""
    for offset, raw in enumerate(keys):
        at = datetime.fromisoformat(json.loads(raw)["occurred_at"])
        yield LogRecord(KEYS_TOPIC, 0, offset, at + timedelta(seconds=1), raw)
    offsets = [0] * PARTITIONS
    for (step, _seq), raw in zip(planned, sealed, strict=True):
        stream = json.loads(raw)["stream_id"]
        part = zlib.crc32(stream.encode()) % PARTITIONS
        at = datetime.fromtimestamp(step[0], T0.tzinfo) + timedelta(milliseconds=50 + step[0] % 1 * 900)
        yield LogRecord(EVENTS_TOPIC, part, offsets[part], at, raw)
        offsets[part] += 1


def write_export(keys_dir: Path, events: int, out: IO[bytes], *, workers: int = 1, batch: int = 1000,
                 trust: bool = False, spacing: timedelta = SPACING) -> int:
    """Write a verifiable export of `events` entries; trust skips re-verifying what we sealed, and
    spacing (between prescriptions) sets how many days the log spans."""
    ids = load_identities(keys_dir)
    pool = ProcessPoolExecutor(workers, initializer=_init, initargs=(str(keys_dir),)) if workers > 1 else None
    try:
        planned = plan_log(max(0, events - len(ids.key_events)), pool, spacing)
        chunks = [planned[i:i + 5000] for i in range(0, len(planned), 5000)]
        if pool is None:
            _init(str(keys_dir))
        sealed = [raw for part in (pool.map(seal_chunk, chunks) if pool else map(seal_chunk, chunks)) for raw in part]
    finally:
        if pool:
            pool.shutdown()
    ledger = Ledger(load_root_public_key(keys_dir), max_clock_skew=timedelta(minutes=10))
    meta = {id(raw): (step, seq) for (step, seq), raw in zip(planned, sealed, strict=True)}
    trusted = (lambda rec: _trusted(rec, meta)) if trust else None
    pending: list[LogRecord] = []
    for rec in records(ids.key_events, planned, sealed):
        pending.append(rec)
        if len(pending) == batch:
            _flush(ledger, pending, trusted, ids.signer(AUDITOR), out)
    if pending:
        _flush(ledger, pending, trusted, ids.signer(AUDITOR), out)
    return ledger.size


def _trusted(rec: LogRecord, meta: dict) -> Verdict:  # type: ignore[type-arg]
    if rec.topic == KEYS_TOPIC:
        obj = json.loads(rec.raw)
        return Verdict(True, None, "", obj["stream_id"], obj["type"], obj["producer"], obj["producer_seq"])
    (_at, _n, _i, kind, _actor, producer, _start), seq = meta[id(rec.raw)]
    stream = rec.raw[rec.raw.rfind(b'"stream_id":"') + 13:].split(b'"', 1)[0].decode()
    return Verdict(True, None, "", stream, kind, producer, seq)


def _flush(ledger: Ledger, pending: list[LogRecord], decide, signer: Signer, out: IO[bytes]) -> None:  # type: ignore[no-untyped-def]
    for appended in ledger.append_batch(pending, decide):
        out.write(appended.line + b"\n")
    now = max(r.log_time for r in pending if r.log_time) + timedelta(seconds=1)
    out.write(encode_checkpoint(ledger.checkpoint(signer, now)) + b"\n")
    pending.clear()
