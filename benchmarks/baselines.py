"""What bounds the pipeline, measured in the same run: the broker with raw aiokafka, Ed25519,
and our event store next to the `eventsourcing` library's SQLite recorder on the same work."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from unittest import mock
from uuid import uuid4

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from events.canonical import signed_part, strict_loads
from events.envelope import Envelope
from events.identities import Identities
from events.seal import seal
from events.verifier import Verifier, read_verified
from infra.kafka_admin import ensure_topics
from services.kit import store as store_module
from services.kit import tables
from services.kit.db import Database
from services.kit.store import Decision, EventStore

# As the services' outbox producer is set up (services/kit/settings.py: producer_batch_bytes).
PRODUCER_TUNING: dict[str, Any] = {"max_batch_size": 512 * 1024}


def _rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else 0.0


# --- the broker, with nothing of ours in the way ----------------------------------------------

async def raw_kafka(bootstrap: str, sizes: list[int], count: int, partitions: int,
                    topic: str = "bench.raw") -> dict[str, Any]:
    """Produce then consume `count` messages with the sizes seen on rx.events (acks=all, keyed),
    on a topic with as many partitions as rx.events (the broker's cost is per partition)."""
    await ensure_topics(bootstrap, {topic: partitions})
    payloads = [os.urandom(s // 2).hex().encode()[:s] for s in random.choices(sizes, k=min(count, 512))]
    keys = [str(uuid4()).encode() for _ in range(max(1, count // 9))]
    rates: dict[str, float] = {}
    for label, tuning in (("default_16KiB_batches", {}), ("512KiB_batches_as_outbox", PRODUCER_TUNING)):
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, acks="all", **tuning)
        await producer.start()
        try:
            # Pipelined: hand everything to the producer, then wait for the acknowledgements
            # (what the outbox does); then one at a time: each send awaited before the next.
            began = time.perf_counter()
            futures = [await producer.send(topic, payloads[i % len(payloads)], key=keys[i % len(keys)])
                       for i in range(count)]
            await asyncio.gather(*futures)
            rates[f"produce_pipelined_{label}_msgs_per_s"] = _rate(count, time.perf_counter() - began)
            if tuning:
                one_by_one_n = min(count, 300)
                began = time.perf_counter()
                for i in range(one_by_one_n):
                    await producer.send_and_wait(topic, payloads[i % len(payloads)], key=keys[i % len(keys)])
                rates["produce_one_at_a_time_msgs_per_s"] = _rate(one_by_one_n, time.perf_counter() - began)
        finally:
            await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                max_partition_fetch_bytes=4 << 20)
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        total, read = sum(ends.values()), 0
        began = time.perf_counter()
        while read < total:
            for records in (await consumer.getmany(timeout_ms=1000, max_records=10000)).values():
                read += len(records)
        consumed = time.perf_counter() - began
    finally:
        await consumer.stop()
    mean = sum(len(p) for p in payloads) / len(payloads)
    return {
        "messages": count, "partitions": partitions, "mean_message_bytes": round(mean),
        **rates,
        "consume_msgs_per_s": _rate(read, consumed),
        "consumed": read,
    }


# --- signatures -------------------------------------------------------------------------------

def ed25519(ids: Identities, samples: list[bytes], seconds: float = 1.5) -> dict[str, Any]:
    """Raw Ed25519 sign and verify of the signed part of real events; and our whole verifier."""
    signer = ids.signers["dr-wang"]
    messages = [signed_part({k: v for k, v in strict_loads(raw).items()}) for raw in samples[:64]]
    public = signer.private_key.public_key()
    sig = signer.private_key.sign(messages[0])
    out: dict[str, Any] = {"message_bytes": round(sum(map(len, messages)) / len(messages))}
    ops = (("sign", lambda m: signer.private_key.sign(m)), ("verify", lambda m: public.verify(sig, messages[0])))
    for name, op in ops:
        n, began = 0, time.perf_counter()
        while time.perf_counter() - began < seconds:
            for m in messages:
                op(m)
            n += len(messages)
        out[f"{name}_per_s"] = _rate(n, time.perf_counter() - began)
    # The whole check a consumer makes per message: JSON, canonical bytes, signature, key
    # validity, authority, pydantic parse. Its gap to raw verify is our own overhead.
    verifier = Verifier(ids.keyring(), max_clock_skew=None)
    n, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        for raw in samples:
            verifier.verify(raw)
        n += len(samples)
    out["envelope_verify_per_s"] = _rate(n, time.perf_counter() - began)
    n, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        for raw in samples:
            read_verified(raw)
        n += len(samples)
    out["envelope_parse_only_per_s"] = _rate(n, time.perf_counter() - began)
    return out


# --- our consumer pipeline, in process ----------------------------------------------------------

async def consumer_pipeline(ids: Identities, events: list[bytes],
                            batch_sizes: tuple[int, ...] = (1, 50)) -> dict[str, Any]:
    """Real events from the log through services.kit's Consumer (verify, dedupe, keep, fold; no
    reaction, no read model) into a fresh SQLite store: one transaction per event, as before
    batching, against one per batch. CPU seconds are given too: the machine may be shared."""
    from datetime import UTC, datetime

    from services.kit.consumer import Consumer
    from services.kit.store import Delivery

    async def react(*_: Any) -> list[Any]:
        return []

    async def project(*_: Any) -> None:
        return None

    workdir = Path(tempfile.mkdtemp(prefix="rxflow-bench-consumer-"))
    out: dict[str, Any] = {"events": len(events)}
    now = datetime.now(UTC)
    for size in batch_sizes:
        db = Database(f"sqlite+aiosqlite:///{workdir / f'batch{size}.db'}")
        await db.create_all(tables.metadata)
        consumer = Consumer(db, EventStore("bench"), Verifier(ids.keyring(), max_clock_skew=None), react, project)
        messages = [(raw, Delivery("rx.events", 0, i, now), None) for i, raw in enumerate(events)]
        wall, cpu = time.perf_counter(), time.process_time()
        for i in range(0, len(messages), size):
            await consumer.handle_batch(messages[i:i + size])
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        out[f"batch_{size}"] = {"events_per_s": _rate(len(events), wall), "events_per_cpu_s": _rate(len(events), cpu),
                                "transactions": db.writes}
        await db.close()
    shutil.rmtree(workdir, ignore_errors=True)
    return out


# --- event store vs eventsourcing's recorder --------------------------------------------------

ROUNDS = 4  # turns each store takes, alternating which goes first

async def event_stores(ids: Identities, journeys: list[list[Envelope[Any]]], writers: int = 16) -> dict[str, Any]:
    """Append the same streams (same events, same sizes) to our store and to eventsourcing's
    SQLiteApplicationRecorder: one event per transaction, first by one writer, then by
    `writers` concurrent writers; then load every stream back. Our append signs each event
    (Ed25519 + canonical JSON) and writes an outbox row; theirs stores ready-made bytes. A third
    pass runs our append on the bytes sealed beforehand: our store without the signing."""
    from eventsourcing.persistence import StoredEvent
    from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore

    workdir = Path(tempfile.mkdtemp(prefix="rxflow-bench-store-"))
    half = len(journeys) // 2
    out: dict[str, Any] = {"streams": len(journeys), "events": sum(map(len, journeys)), "writers": writers,
                           "synchronous": "FULL (2) on both", "journal_mode": "WAL on both"}
    db = Database(f"sqlite+aiosqlite:///{workdir / 'ours.db'}")
    await db.create_all(tables.metadata)
    store = EventStore("bench")
    datastore = SQLiteDatastore(str(workdir / "theirs.db"), pool_size=writers + 1)
    recorder = SQLiteApplicationRecorder(datastore)
    recorder.create_table()
    with datastore.transaction(commit=False) as c:
        c.execute("PRAGMA synchronous")
        theirs_sync = c.fetchone()[0]
    out["synchronous"] = f"ours FULL (2), theirs {theirs_sync}"
    stream_ids: dict[int, str] = {}
    # Theirs stores ready-made bytes: the same events sealed once beforehand, untimed.
    sealed = {(j, v): seal(e.payload, stream_id=str(uuid4()), stream_version=v + 1, producer="bench",
                           signer=ids.signers[e.actor], producer_seq=v + 1, occurred_at=e.occurred_at)
              for j, journey in enumerate(journeys) for v, e in enumerate(journey)}
    presealed_of: dict[str, int] = {}  # stream id -> journey, for the pass that does not sign

    async def ours(j: int) -> None:
        sid = stream_ids.setdefault(j, str(uuid4()))
        for v, event in enumerate(journeys[j]):
            decision = Decision(event.payload, ids.signers[event.actor], uuid4())
            async with db.write() as s:
                await store.append(s, sid, v, [decision], event.occurred_at)

    async def ours_sealed(j: int) -> None:
        # Our append with its sealing replaced by bytes sealed earlier (theirs' work): what the
        # rest of our append costs, so the table shows what signing adds.
        sid = str(uuid4())
        presealed_of[sid] = j
        for v, event in enumerate(journeys[j]):
            async with db.write() as s:
                await store.append(s, sid, v, [Decision(event.payload, ids.signers[event.actor], uuid4())],
                                   event.occurred_at)

    def theirs(j: int) -> None:
        sid = uuid4()
        for v in range(len(journeys[j])):
            recorder.insert_events([StoredEvent(sid, v + 1, journeys[j][v].type, sealed[(j, v)])])

    async def timed_ours(append: Callable[[int], Awaitable[None]], js: list[int], concurrent: bool) -> float:
        began = time.perf_counter()
        if concurrent:
            queue = list(js)

            async def worker() -> None:
                while queue:
                    await append(queue.pop())
            await asyncio.gather(*(worker() for _ in range(writers)))
        else:
            for j in js:
                await append(j)
        return time.perf_counter() - began

    def timed_theirs(js: list[int], concurrent: bool) -> float:
        began = time.perf_counter()
        if concurrent:
            with ThreadPoolExecutor(writers) as pool:
                list(pool.map(theirs, js))
        else:
            for j in js:
                theirs(j)
        return time.perf_counter() - began

    def presealed(payload: Any, *, stream_id: str, stream_version: int, **_: Any) -> bytes:
        return sealed[(presealed_of[stream_id], stream_version - 1)]

    # Both stores share one disk, whose fsync time drifts during a run (0.2 to 0.4 ms here):
    # they take turns in rounds, each going first in half of them, so a drift hits both alike.
    modes = (("one_writer", range(half), False), (f"{writers}_writers", range(half, len(journeys)), True))
    for mode, js, concurrent in modes:
        n = sum(len(journeys[j]) for j in js)
        ours_s = theirs_s = sealed_s = 0.0
        for r in range(ROUNDS):
            chunk = list(js)[r::ROUNDS]
            if r % 2:
                theirs_s += await asyncio.to_thread(timed_theirs, chunk, concurrent)
            ours_s += await timed_ours(ours, chunk, concurrent)
            if not r % 2:
                theirs_s += await asyncio.to_thread(timed_theirs, chunk, concurrent)
            with mock.patch.object(store_module, "seal", presealed):
                sealed_s += await timed_ours(ours_sealed, chunk, concurrent)
        out[f"append_{mode}"] = {
            "events": n, "ours_events_per_s": _rate(n, ours_s), "eventsourcing_events_per_s": _rate(n, theirs_s),
            "ratio_ours_over_theirs": round(theirs_s / ours_s, 2) if ours_s else None,
            "ours_sealed_beforehand_events_per_s": _rate(n, sealed_s),
            "ratio_ours_sealed_beforehand_over_theirs": round(theirs_s / sealed_s, 2) if sealed_s else None,
        }
    # Load every stream back, one stream per read: ours parsed into envelopes (what a command
    # folds), ours as raw rows, theirs as StoredEvent rows.
    store_cold = EventStore("bench", parse_cache_size=0)
    total = sum(map(len, journeys))
    began = time.perf_counter()
    for sid in stream_ids.values():
        async with db.read() as s:
            await store_cold.load(s, sid)
    ours_parsed = time.perf_counter() - began
    from sqlalchemy import select
    began = time.perf_counter()
    for sid in stream_ids.values():
        async with db.read() as s:
            (await s.execute(select(tables.events.c.raw).where(tables.events.c.stream_id == sid)
                             .order_by(tables.events.c.stream_version))).all()
    ours_rows = time.perf_counter() - began
    their_ids = []
    with datastore.transaction(commit=False) as c:
        c.execute("SELECT DISTINCT originator_id FROM stored_events")
        their_ids = [r[0] for r in c.fetchall()]
    began = time.perf_counter()
    for oid in their_ids:
        recorder.select_events(oid)
    theirs_rows = time.perf_counter() - began
    out["load"] = {
        "ours_parsed_events_per_s": _rate(total, ours_parsed),
        "ours_rows_events_per_s": _rate(total, ours_rows),
        "eventsourcing_rows_events_per_s": _rate(total, theirs_rows),
        "ratio_ours_rows_over_theirs": round(theirs_rows / ours_rows, 2) if ours_rows else None,
        "ratio_ours_parsed_over_theirs_rows": round(theirs_rows / ours_parsed, 2) if ours_parsed else None,
    }
    await db.close()
    datastore.close()
    for f in workdir.iterdir():
        f.unlink()
    workdir.rmdir()
    return out
