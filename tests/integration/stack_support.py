"""Helpers for tests that run the whole platform: read the log, count rows, wait for consumers."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections import Counter
from collections.abc import Iterator
from contextlib import closing, contextmanager
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


async def republish(bootstrap: str, messages: list[bytes | None], topic: str = "rx.events") -> None:
    """Put messages on the log again, keyed as the services key them (None: a record with no value)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, acks="all")
    await producer.start()
    try:
        for raw in messages:
            key = json.loads(raw)["stream_id"].encode() if raw and raw.startswith(b'{"') else b"junk"
            await producer.send(topic, raw, key=key)
        await producer.flush()
    finally:
        await producer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    await consumer._client.force_metadata_update()
    return [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]


async def wait_consumed(bootstrap: str, groups: list[str], topic: str = "rx.events", timeout_s: float = 60) -> None:
    """Wait until every consumer group has committed up to the end of the topic, and stays there."""
    # OffsetFetch through a group consumer: Tansu does not answer the admin client's variant.
    # Tansu can report a high watermark a moment late, so the end is read again on every
    # round and the groups must be caught up on two rounds in a row.
    readers = [AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=g, enable_auto_commit=False) for g in groups]
    for reader in readers:
        await reader.start()
    try:
        parts = await _partitions(readers[0], topic)
        deadline, caught_up = asyncio.get_running_loop().time() + timeout_s, 0
        while caught_up < 2:
            ends = await readers[0].end_offsets(parts)
            lagging = [(g, p) for g, r in zip(groups, readers, strict=True) for p in parts
                       if (await r.committed(p) or 0) < ends[p]]
            caught_up = 0 if lagging else caught_up + 1
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"consumers did not catch up: {lagging[:5]}")
            await asyncio.sleep(0.5)
    finally:
        for reader in readers:
            await reader.stop()


@contextmanager
def _read_only(db_dir: Path, service: str) -> Iterator[sqlite3.Connection]:
    """A service's SQLite database, opened read-only beside the running service."""
    with closing(sqlite3.connect(f"file:{db_dir / f'{service}.db'}?mode=ro", uri=True)) as con:
        yield con


def inbox_ids(db_dir: Path, service: str) -> set[str]:
    """Event ids a service has consumed from the log (read-only)."""
    with _read_only(db_dir, service) as con:
        return {r[0] for r in con.execute("select event_id from inbox")}


async def wait_every_event_consumed(bootstrap: str, db_dir: Path, services: list[str],
                                    timeout_s: float = 120) -> list[bytes]:
    """Wait until every event on the log is in every service's inbox, and return the log.

    Stronger than committed offsets (a stale high watermark can make those look caught up), and
    a skipped offset shows up here as a named missing event instead of a count off by one.
    """
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        log = await read_log(bootstrap)
        on_log = {json.loads(raw)["event_id"]: i for i, raw in enumerate(log) if raw.startswith(b"{")}
        missing = {s: sorted(set(on_log) - inbox_ids(db_dir, s), key=on_log.get) for s in services}
        if not any(missing.values()):
            return log
        if asyncio.get_running_loop().time() > deadline:
            named = {s: [(on_log[e], e) for e in ids[:5]] for s, ids in missing.items() if ids}
            raise TimeoutError(f"events on the log never consumed (log index, event id): {named}")
        await asyncio.sleep(0.5)


def row_counts(db_dir: Path, service: str) -> dict[str, int]:
    """Row counts of a service's SQLite tables (read-only)."""
    with _read_only(db_dir, service) as con:
        tables = [r[0] for r in con.execute("select name from sqlite_master where type='table'")]
        return {t: con.execute(f'select count(*) from "{t}"').fetchone()[0] for t in tables}


def rejection_reason(db_dir: Path, service: str, event_id: str) -> str | None:
    """Why a service refused this event, if it has (read-only)."""
    with _read_only(db_dir, service) as con:
        found = con.execute("select reason from rejections where event_id = ?", (event_id,)).fetchone()
        return None if found is None else found[0]


def ledger_verdict(db_dir: Path, event_id: str) -> tuple[bool, str | None] | None:
    """The audit ledger's verdict on an event (accepted, reason), once sealed (read-only)."""
    with _read_only(db_dir, "audit") as con:
        found = con.execute("select accepted, reason from audit_ledger where event_id = ?", (event_id,)).fetchone()
        return None if found is None else (bool(found[0]), found[1])


def unpublished(db_dir: Path, service: str) -> int:
    """Messages a service has not yet put on the log: its events past its publish cursor, and
    its outbox rows not yet published (the audit's checkpoints)."""
    with _read_only(db_dir, service) as con:
        tables = {r[0] for r in con.execute("select name from sqlite_master where type='table'")}
        waiting = 0
        if "outbox" in tables:
            waiting += con.execute("select count(*) from outbox where not published").fetchone()[0]
        if "events" in tables:
            cursor = con.execute("select max(position) from publish_cursor").fetchone()[0] or 0
            waiting += con.execute("select count(*) from events where position > ?", (cursor,)).fetchone()[0]
        return waiting


async def settled_counts(db_dir: Path, services: list[str], quiet_s: float = 1.0, timeout_s: float = 60) -> dict:
    """Row counts once they have stopped moving for quiet_s and no outbox holds an unpublished
    event (a slow produce leaves the tables still while an event is yet to reach the log)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    last = {s: row_counts(db_dir, s) for s in services}
    while asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(quiet_s)
        now = {s: row_counts(db_dir, s) for s in services}
        if now == last and not any(unpublished(db_dir, s) for s in services):
            return now
        last = now
    raise TimeoutError("the services' tables kept changing")


def count_types(messages: list[bytes]) -> Counter[tuple[str, str]]:
    """(stream_id, type) -> how many envelopes of that type the stream has on the log."""
    out: Counter[tuple[str, str]] = Counter()
    for raw in messages:
        obj = json.loads(raw)
        out[(obj["stream_id"], obj["type"])] += 1
    return out
