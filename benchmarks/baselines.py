"""What bounds the pipeline, measured in the same run: the broker with raw aiokafka, Ed25519,
and our consumer pipeline in process (benchmarks/store_baseline.py: our event store next to
the `eventsourcing` library's recorder)."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any
from uuid import uuid4

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from events.canonical import signed_part, strict_loads
from events.fastverify import FastVerifier
from events.identities import Identities
from events.signing import public_key_bytes, signature_valid
from events.verifier import Verifier, read_verified
from infra.kafka_admin import ensure_topics
from services.kit import tables
from services.kit.db import Database
from services.kit.store import EventStore

# As the services' outbox producer is set up (services/kit/settings.py: producer_batch_bytes).
PRODUCER_TUNING: dict[str, Any] = {"max_batch_size": 512 * 1024}


def rate(count: int, seconds: float) -> float:
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
            rates[f"produce_pipelined_{label}_msgs_per_s"] = rate(count, time.perf_counter() - began)
            if tuning:
                one_by_one_n = min(count, 300)
                began = time.perf_counter()
                for i in range(one_by_one_n):
                    await producer.send_and_wait(topic, payloads[i % len(payloads)], key=keys[i % len(keys)])
                rates["produce_one_at_a_time_msgs_per_s"] = rate(one_by_one_n, time.perf_counter() - began)
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
        "consume_msgs_per_s": rate(read, consumed),
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
    raw_public = public_key_bytes(public)
    # sign and verify: libsodium, what every signer and verifier here uses (sign as the services
    # call it, base64 included); *_openssl: the same through `cryptography`, what they used before
    # (events/signing.py says why they moved).
    ops = (("sign", lambda m: signer.sign(m)),
           ("sign_openssl", lambda m: signer.private_key.sign(m)),
           ("verify", lambda m: signature_valid(raw_public, sig, messages[0])),
           ("verify_openssl", lambda m: public.verify(sig, messages[0])))
    for name, op in ops:
        n, began = 0, time.perf_counter()
        while time.perf_counter() - began < seconds:
            for m in messages:
                op(m)
            n += len(messages)
        out[f"{name}_per_s"] = rate(n, time.perf_counter() - began)
    # The whole check a consumer makes per message: JSON, signed bytes, signature, key validity,
    # authority, pydantic parse. Its gap to raw verify is our own overhead. The services run the
    # fast verifier; the reference one re-serialises each message and validates it twice.
    for key, verifier in (("envelope_verify_per_s", FastVerifier(ids.keyring(), max_clock_skew=None)),
                          ("envelope_verify_reference_per_s", Verifier(ids.keyring(), max_clock_skew=None))):
        n, began = 0, time.perf_counter()
        while time.perf_counter() - began < seconds:
            for raw in samples:
                verifier.verify(raw)
            n += len(samples)
        out[key] = rate(n, time.perf_counter() - began)
    n, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        for raw in samples:
            read_verified(raw)
        n += len(samples)
    out["envelope_parse_only_per_s"] = rate(n, time.perf_counter() - began)
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
        verifier = FastVerifier(ids.keyring(), max_clock_skew=None)  # as the services verify
        consumer = Consumer(db, EventStore("bench"), verifier, react, project)
        messages = [(raw, Delivery("rx.events", 0, i, now), None) for i, raw in enumerate(events)]
        wall, cpu = time.perf_counter(), time.process_time()
        for i in range(0, len(messages), size):
            await consumer.handle_batch(messages[i:i + size])
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        out[f"batch_{size}"] = {"events_per_s": rate(len(events), wall), "events_per_cpu_s": rate(len(events), cpu),
                                "transactions": db.writes}
        await db.close()
    shutil.rmtree(workdir, ignore_errors=True)
    return out
