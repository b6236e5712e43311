"""Helpers for tests that run the whole platform: read the log, count rows, wait for consumers."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections import Counter
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition


async def read_log(bootstrap: str, topic: str = "rx.events") -> list[bytes]:
    """Every message on the topic, all partitions, from the start."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not parts:
            await consumer._client.force_metadata_update()
            parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(parts)
        ends = await consumer.end_offsets(parts)
        await consumer.seek_to_beginning(*parts)
        out: list[bytes] = []
        while [p for p in parts if await consumer.position(p) < ends[p]]:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                out.extend(r.value for r in records)
        return out
    finally:
        await consumer.stop()


async def republish(bootstrap: str, messages: list[bytes], topic: str = "rx.events") -> None:
    """Put messages on the log again, keyed as the services key them: a redelivery of everything."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, acks="all")
    await producer.start()
    try:
        for raw in messages:
            key = json.loads(raw)["stream_id"].encode() if raw.startswith(b"{") else b"junk"
            await producer.send(topic, raw, key=key)
        await producer.flush()
    finally:
        await producer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    await consumer._client.force_metadata_update()
    return [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]


async def wait_consumed(bootstrap: str, groups: list[str], topic: str = "rx.events", timeout_s: float = 60) -> None:
    """Wait until every consumer group has committed up to the end of the topic."""
    # OffsetFetch through a group consumer: Tansu does not answer the admin client's variant.
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await probe.start()
    try:
        parts = await _partitions(probe, topic)
        ends = await probe.end_offsets(parts)
    finally:
        await probe.stop()
    deadline = asyncio.get_running_loop().time() + timeout_s
    for group in groups:
        reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
        await reader.start()
        try:
            while True:
                committed = {p: await reader.committed(p) for p in parts}
                if all((committed[p] or 0) >= ends[p] for p in parts):
                    break
                if asyncio.get_running_loop().time() > deadline:
                    raise TimeoutError(f"group {group} did not catch up: {committed} vs {ends}")
                await asyncio.sleep(0.2)
        finally:
            await reader.stop()


def row_counts(db_dir: Path, service: str) -> dict[str, int]:
    """Row counts of a service's SQLite tables (read-only)."""
    con = sqlite3.connect(f"file:{db_dir / f'{service}.db'}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in con.execute("select name from sqlite_master where type='table'")]
        return {t: con.execute(f'select count(*) from "{t}"').fetchone()[0] for t in tables}
    finally:
        con.close()


def count_types(messages: list[bytes]) -> Counter[tuple[str, str]]:
    """(stream_id, type) -> how many envelopes of that type the stream has on the log."""
    out: Counter[tuple[str, str]] = Counter()
    for raw in messages:
        obj = json.loads(raw)
        out[(obj["stream_id"], obj["type"])] += 1
    return out
