"""The regulator reads Kafka itself: every partition from the start, and rebuilds the ledger from it.

The audit service's checkpoints say which offsets each batch covers, and a batch is in a fixed
order (ledger.order), so the same messages give the same entries, byte for byte: if the root
hashes match, the service's ledger and the broker's log tell the same story.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaConsumer, TopicPartition

from events.keyring import Keyring
from services.audit.ledger import KEYS_TOPIC, Ledger, LogRecord, encode_checkpoint

Source = tuple[str, int]
MAX_REREADS = 20  # per partition, before a hole in its offsets is left for the checks to report


async def read_topics(bootstrap: str, topics: Iterable[str], timeout_s: float = 30.0,
                      at_least: dict[Source, int] | None = None) -> dict[Source, list[LogRecord]]:
    """Every record of every partition of the topics, from the start to the current end (or to
    at_least's offsets, where known to exist: a broker may report a partition's end late)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, request_timeout_ms=30000)
    await consumer.start()
    try:
        parts: list[TopicPartition] = []
        for _ in range(20):  # ask the cluster itself: a fresh client's own view may not list the topics yet
            cluster = await consumer._client.fetch_all_metadata()
            parts = [TopicPartition(t, p) for t in topics for p in sorted(cluster.partitions_for_topic(t) or ())]
            if parts:
                break
            await asyncio.sleep(0.25)
        if not parts:
            return {}
        consumer.assign(parts)
        ends = await consumer.end_offsets(parts)
        # Ends raised to what a checkpoint claims are waited for briefly, never a reason to fail.
        reported = dict(ends)
        for p in parts:
            ends[p] = max(ends[p], (at_least or {}).get((p.topic, p.partition), 0))
        await consumer.seek_to_beginning(*parts)
        out: dict[Source, list[LogRecord]] = {(p.topic, p.partition): [] for p in parts}
        rereads, idle = dict.fromkeys(parts, 0), 0.0
        while any(position < ends[p] for p, position in [(p, await consumer.position(p)) for p in parts]):
            batches = await consumer.getmany(timeout_ms=1000)
            idle = 0.0 if batches else idle + 1.0
            if not batches and idle >= min(timeout_s, 5.0) and all(
                    await consumer.position(p) >= reported[p] for p in parts):
                return out  # all the broker reported is read; what a checkpoint claims beyond it the checks report
            if idle >= timeout_s:
                raise TimeoutError(f"no records from {bootstrap} for {timeout_s:.0f}s before the end of the log")
            for part, records in batches.items():
                kept = out[(part.topic, part.partition)]
                expected = kept[-1].offset + 1 if kept else None
                hole = next((r.offset for r in records if expected is not None and r.offset > expected), None)
                if hole is not None and rereads[part] < MAX_REREADS:
                    # Our topics' offsets are contiguous: a jump is a fetch that left records out
                    # (seen once on the embedded broker). Ask again from the first one missing;
                    # if it stays missing, the checkpoints will say so.
                    rereads[part] += 1
                    consumer.seek(part, expected)  # type: ignore[arg-type]
                    continue
                kept.extend(LogRecord(r.topic, r.partition, r.offset, _time(r.timestamp), r.value or b"")
                            for r in records if r.offset < ends[part] and (expected is None or r.offset >= expected))
        return out
    finally:
        await consumer.stop()


async def snapshot(bootstrap: str, log_topics: Iterable[str], checkpoints_topic: str,
                   ) -> tuple[dict[Source, list[LogRecord]], list[bytes]]:
    """The checkpoints first, then the log: every message a checkpoint covers was on the log before it.

    A broker may report a partition's end a moment late; if a checkpoint names offsets not read
    yet, the log is read again (a few times) before the regulator is told something is missing.
    """
    cps = [r.raw for _, records in sorted((await read_topics(bootstrap, [checkpoints_topic])).items())
           for r in records]
    needed: dict[Source, int] = {}
    for raw in cps:
        for source, end in (_batch_ends(raw) or {}).items():
            needed[source] = max(needed.get(source, 0), end)
    for attempt in range(5):
        log = await read_topics(bootstrap, log_topics, at_least=needed)
        have = {source: (records[-1].offset + 1 if records else 0) for source, records in log.items()}
        if all(have.get(source, 0) >= end for source, end in needed.items()):
            break
        await asyncio.sleep(0.5 * (attempt + 1))
    return log, cps


def _time(ms: int | None) -> datetime | None:
    # The same reading of the broker's timestamp as the services' (services.kit.consumer.kafka_time).
    return datetime.fromtimestamp(ms / 1000, UTC) if isinstance(ms, int) and ms > 0 else None


def _batch_ends(raw: bytes) -> dict[Source, int] | None:
    """Where a checkpoint says its batch ends, per source; None if it cannot be read."""
    try:
        sources = json.loads(raw)["payload"]["sources"]
        return {(s["topic"], int(s["partition"])): int(s["next_offset"]) for s in sources}
    except (ValueError, KeyError, TypeError):
        return None


def rebuild(log: dict[Source, list[LogRecord]], checkpoints: list[bytes], keyring: Keyring,
            max_clock_skew: timedelta | None, keys_topic: str = KEYS_TOPIC) -> tuple[bytes, int]:
    """The export the audit service should have written; returns it and how many entries no checkpoint
    covers yet (the batch still waiting in the service)."""
    ledger = Ledger(keyring, max_clock_skew=max_clock_skew, keys_topic=keys_topic)
    queues = {source: sorted(records, key=lambda r: r.offset) for source, records in log.items()}
    lines: list[bytes] = []
    seen: set[bytes] = set()
    for raw in checkpoints:
        if raw in seen:  # the outbox publishes at least once: a second copy is the same checkpoint
            continue
        seen.add(raw)
        ends = _batch_ends(raw) or {}
        batch = []
        for source, end in ends.items():
            queue = queues.get(source, [])
            cut = next((i for i, r in enumerate(queue) if r.offset >= end), len(queue))
            batch += queue[:cut]
            queues[source] = queue[cut:]
        lines += [a.line for a in ledger.append_batch(batch)]
        lines.append(encode_checkpoint(raw))
    tail = ledger.append_batch(r for queue in queues.values() for r in queue)
    lines += [a.line for a in tail]
    return b"".join(line + b"\n" for line in lines), len(tail)
