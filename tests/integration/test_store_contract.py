"""One event-store contract, run against every store the services support: SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
import json
from uuid import uuid4

import pytest
from faststream.kafka import KafkaBroker
from sqlalchemy import func, select

from events.schemas import PrescriptionCancelled
from infra.kafka_admin import ensure_topics
from infra.kafka_options import PRODUCER_OPTIONS
from services.kit import tables
from services.kit.db import Database
from services.kit.outbox import Outbox, StoreEvents
from services.kit.store import Decision, Delivery, EventStore, VersionConflict, first_seen_many
from tests.factories import T0, issued
from tests.integration.stack_support import read_log

pytestmark = pytest.mark.integration
_db_names = itertools.count()


@pytest.fixture(params=["sqlite", "postgresql"])
async def db(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path}/store.db"
    else:
        server = request.getfixturevalue("postgres_server")
        url = server.create_database(f"contract_{next(_db_names)}_{uuid4().hex[:6]}")
    database = Database(url)
    await database.create_all(tables.metadata)
    yield database
    await database.close()


@pytest.fixture
def doctor(identities):
    return identities.signer("dr-wang")


async def _count(db, table) -> int:
    async with db.read() as s:
        return (await s.execute(select(func.count()).select_from(table))).scalar_one()


def _cancel(doctor, pid):
    return Decision(PrescriptionCancelled(prescription_id=pid, doctor_id=doctor.actor_id, reason="重复开具"),
                    doctor, uuid4())


async def test_append_then_load_gives_the_events_back_in_order(db, doctor):
    store, pid = EventStore("prescriber"), uuid4()
    async with db.write() as s:
        await store.append(s, str(pid), 0, [Decision(issued(doctor, pid), doctor, uuid4())], T0)
        await store.append(s, str(pid), 1, [_cancel(doctor, pid)], T0)
    async with db.read() as s:
        loaded = await store.load(s, str(pid))
    assert [e.type for e in loaded] == ["prescription.issued", "prescription.cancelled"]
    assert [e.stream_version for e in loaded] == [1, 2]
    assert [e.producer_seq for e in loaded] == [1, 2]
    async with db.read() as s:  # both wait for the publisher, in the order they were appended
        assert [p.event_id for p in await StoreEvents("rx.events").pending(s, 10)] == [str(e.event_id) for e in loaded]


async def test_a_taken_version_is_a_conflict_and_the_transaction_leaves_nothing(db, doctor):
    store, pid = EventStore("prescriber"), uuid4()
    async with db.write() as s:
        await store.append(s, str(pid), 0, [Decision(issued(doctor, pid), doctor, uuid4())], T0)
    with pytest.raises(VersionConflict):
        async with db.write() as s:
            await store.append(s, str(pid), 0, [Decision(issued(doctor, pid), doctor, uuid4())], T0)
    assert await _count(db, tables.events) == 1
    async with db.write() as s:  # the failed transaction's sequence number was rolled back: no gap
        await store.append(s, str(pid), 1, [_cancel(doctor, pid)], T0)
    async with db.read() as s:
        assert [e.producer_seq for e in await store.load(s, str(pid))] == [1, 2]


async def test_concurrent_writers_of_one_version_exactly_one_wins(db, doctor):
    store, pid = EventStore("prescriber"), uuid4()
    async with db.write() as s:
        await store.append(s, str(pid), 0, [Decision(issued(doctor, pid), doctor, uuid4())], T0)

    async def writer() -> str:
        try:
            async with db.write() as s:
                await store.append(s, str(pid), 1, [_cancel(doctor, pid)], T0)
            return "won"
        except VersionConflict:
            return "lost"

    results = await asyncio.gather(*(writer() for _ in range(8)))
    assert results.count("won") == 1
    async with db.read() as s:
        seqs = (await s.execute(select(tables.events.c.producer_seq).order_by(tables.events.c.producer_seq))).scalars()
        assert list(seqs) == [1, 2]  # losers left no gap in producer_seq


async def test_consumed_events_are_seen_once_and_folded_before_pending_ones(db, doctor):
    from events.seal import seal
    from events.verifier import read_verified

    store, pid = EventStore("review"), uuid4()
    raw = seal(issued(doctor, pid), stream_id=str(pid), stream_version=1, producer="prescriber",
               signer=doctor, producer_seq=1, occurred_at=T0)
    event = read_verified(raw)
    where = Delivery("rx.events", 0, 0, T0)
    async with db.write() as s:
        assert not await store.seen(s, str(event.event_id))
        await store.record_consumed(s, event, raw, where)
        assert await store.seen(s, str(event.event_id))
        sealed = await store.append(s, str(pid), 1, [_cancel(doctor, pid)], T0)
    async with db.read() as s:
        loaded = await store.load(s, str(pid))
        pending = await store.pending(s, str(pid))
    assert [e.type for e in loaded] == ["prescription.issued", "prescription.cancelled"]
    assert pending == [str(loaded[1].event_id)]
    async with db.write() as s:  # our cancellation comes back from the log: no longer pending
        await store.record_consumed(s, read_verified(sealed[0]), sealed[0], Delivery("rx.events", 0, 1, T0))
    async with db.read() as s:
        assert await store.pending(s, str(pid)) == []


async def test_upsert_inserts_then_replaces_a_read_model_row_with_its_types(db):
    from datetime import timedelta

    from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table

    from services.kit.rows import upsert

    rows = Table("contract_rows", MetaData(), Column("id", String(36), primary_key=True),
                 Column("offset", Integer), Column("at", DateTime(timezone=True)))  # "offset": a reserved word
    await db.create_all(rows.metadata)
    async with db.write() as s:
        await upsert(s, rows, {"id": "a", "offset": 1, "at": T0}, "id")
        await upsert(s, rows, {"id": "b", "offset": 2, "at": T0}, "id")
    async with db.write() as s:
        await upsert(s, rows, {"id": "a", "offset": 3, "at": T0 + timedelta(hours=1)}, "id")
    async with db.read() as s:
        found = {r.id: (r.offset, r.at.replace(tzinfo=None)) for r in await s.execute(select(rows))}
    assert found == {"a": (3, (T0 + timedelta(hours=1)).replace(tzinfo=None)), "b": (2, T0.replace(tzinfo=None))}


async def test_hot_path_inserts_store_what_core_stores_and_refuse_duplicates_alike(db):
    from sqlalchemy import cast, insert
    from sqlalchemy.exc import IntegrityError
    from sqlalchemy.types import Text

    from services.kit.rows import insert_rows, raw_sqlite

    at = T0.replace(microsecond=123456)
    row = dict(event_id="e-fast", stream_id="s", stream_version=1, type="t", producer_seq=1, occurred_at=at,
               raw=b"\x00\xff{}")
    async with db.write() as s:
        assert (raw_sqlite(s) is not None) == db.url.startswith("sqlite")  # the fast path is what is compared
        await insert_rows(s, tables.events, [row])
        core = [{**row, "event_id": "e-core", "stream_version": 2}]
        await (await s.connection()).execute(insert(tables.events), core)
    async with db.read() as s:
        stored = (await s.execute(
            select(tables.events.c.event_id, tables.events.c.occurred_at, cast(tables.events.c.occurred_at, Text),
                   tables.events.c.raw).order_by(tables.events.c.position))).all()
    (_, fast_at, fast_text, fast_raw), (_, core_at, core_text, core_raw) = stored
    assert (fast_at, fast_text, fast_raw) == (core_at, core_text, core_raw)
    assert fast_raw == row["raw"]
    with pytest.raises(IntegrityError):  # what the store turns into VersionConflict
        async with db.write() as s:
            await insert_rows(s, tables.events, [{**row, "event_id": "e-other"}])
    assert await _count(db, tables.events) == 2


async def test_reads_inside_a_write_give_what_core_reads_give(db, doctor):
    """On SQLite a write session reads straight from sqlite3; a read session goes through Core."""
    from events.seal import seal
    from events.verifier import read_verified

    store, pid = EventStore("review"), uuid4()
    raw = seal(issued(doctor, pid), stream_id=str(pid), stream_version=1, producer="prescriber",
               signer=doctor, producer_seq=1, occurred_at=T0)
    event = read_verified(raw)
    at = T0.replace(microsecond=654321)
    async with db.write() as s:
        await store.record_consumed(s, event, raw, Delivery("rx.events", 2, 41, at))
        await store.append(s, str(pid), 1, [_cancel(doctor, pid)], T0)
    ids = [str(event.event_id), "never-consumed"]
    async with db.write() as s:
        in_write = (await first_seen_many(s, ids), await store.load_many(s, [str(pid), "no-stream"]))
    async with db.read() as s:
        in_read = (await first_seen_many(s, ids), await store.load_many(s, [str(pid), "no-stream"]))
    assert in_write == in_read
    seen, streams = in_write
    assert list(seen) == [str(event.event_id)] and (seen[str(event.event_id)].partition,
                                                    seen[str(event.event_id)].offset) == (2, 41)
    logged, pending = streams[str(pid)]
    assert [e.type for e in logged] == ["prescription.issued"]
    assert [e.type for e in pending] == ["prescription.cancelled"]


async def test_upserts_inside_a_write_store_what_core_stores(db):
    from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, cast
    from sqlalchemy.types import Text

    from services.kit.rows import raw_sqlite, upsert

    rows = Table("upsert_paths", MetaData(), Column("id", String(36), primary_key=True),
                 Column("offset", Integer), Column("at", DateTime(timezone=True)))
    await db.create_all(rows.metadata)
    at = T0.replace(microsecond=120)
    async with db.write() as s:
        await upsert(s, rows, {"id": "fast", "offset": 1, "at": at}, "id")
    async with db.sessions.begin() as s:  # a session of its own: always the Core path
        assert raw_sqlite(s) is None
        await upsert(s, rows, {"id": "core", "offset": 1, "at": at}, "id")
    async with db.read() as s:
        found = await s.execute(select(rows.c.id, rows.c.offset, rows.c.at, cast(rows.c.at, Text)))
        stored = {r.id: tuple(r[1:]) for r in found}
    assert stored["fast"] == stored["core"]


async def test_insert_missing_keeps_existing_rows_on_both_paths(db):
    """Rows already there stay as they are (first writer wins); new ones are stored as Core stores them."""
    from sqlalchemy import Column, DateTime, MetaData, String, Table, cast
    from sqlalchemy.types import Text

    from services.kit.rows import insert_missing, raw_sqlite

    packs = Table("missing_paths", MetaData(), Column("code", Text, primary_key=True),
                  Column("owner", String(36)), Column("at", DateTime(timezone=True)))
    await db.create_all(packs.metadata)
    at = T0.replace(microsecond=120)
    async with db.write() as s:
        await insert_missing(s, packs, [{"code": "c1", "owner": "first", "at": at},
                                        {"code": "c2", "owner": "first", "at": at}], key="code")
        await insert_missing(s, packs, [{"code": "c1", "owner": "second", "at": at},
                                        {"code": "fast", "owner": "second", "at": at}], key="code")
    async with db.sessions.begin() as s:  # a session of its own: always the Core path
        assert raw_sqlite(s) is None
        await insert_missing(s, packs, [{"code": "c2", "owner": "third", "at": at},
                                        {"code": "core", "owner": "third", "at": at}], key="code")
    async with db.read() as s:
        found = await s.execute(select(packs.c.code, packs.c.owner, packs.c.at, cast(packs.c.at, Text)))
        stored = {r.code: tuple(r[1:]) for r in found}
    assert {code: row[0] for code, row in stored.items()} == {
        "c1": "first", "c2": "first", "fast": "second", "core": "third"}
    assert stored["fast"][1:] == stored["core"][1:]


async def test_the_audit_keeps_each_log_position_once_on_both_paths(db):
    """The audit's pending messages are unique by (topic, partition, offset): a redelivery is ignored."""
    from services.audit import store as audit_store

    await db.create_all(audit_store.metadata)

    def rows(offsets, raw):
        return [dict(topic="rx.events", partition=0, offset=o, log_time=T0, raw=raw) for o in offsets]

    async with db.write() as s:
        await audit_store.add_pending(s, rows([0, 1], b"first"))
        await audit_store.add_pending(s, rows([1, 2], b"again"))
    async with db.sessions.begin() as s:  # a session of its own: always the Core path
        await audit_store.add_pending(s, rows([2, 3], b"core"))
    async with db.read() as s:
        _, records = await audit_store.take_pending(s, 10)
    assert [(r.offset, r.raw) for r in records] == [(0, b"first"), (1, b"first"), (2, b"again"), (3, b"core")]
    assert {r.log_time for r in records} == {T0}


async def test_the_publisher_sends_each_event_once_in_append_order_and_skips_what_the_log_has(
        db, doctor, tansu_broker):
    # The events table is its own outbox: what is past the cursor leaves, in position order, and
    # the cursor moves past it; an event already read back from the log moves it without a send.
    topic = f"outbox-{uuid4().hex[:8]}"
    await ensure_topics(tansu_broker.bootstrap, {topic: 1})
    store, first, second, rebuilt = EventStore("prescriber"), uuid4(), uuid4(), uuid4()
    async with db.write() as s:
        await store.append(s, str(first), 0, [Decision(issued(doctor, first), doctor, uuid4())], T0)
        await store.append(s, str(second), 0, [Decision(issued(doctor, second), doctor, uuid4())], T0)
        await store.append(s, str(first), 1, [_cancel(doctor, first)], T0)
    broker = KafkaBroker(tansu_broker.bootstrap, **PRODUCER_OPTIONS)
    outbox = Outbox(db, broker, StoreEvents(topic))
    async with broker:
        await broker.start()
        assert await outbox.publish_pending() == 3
        assert await outbox.publish_pending() == 0  # the cursor is past them
        async with db.write() as s:  # as a service rebuilding from the log re-derives it
            raw = (await store.append(s, str(rebuilt), 0, [Decision(issued(doctor, rebuilt), doctor, uuid4())],
                                      T0))[0]
            await store.record_consumed(s, store.parse(raw), raw, Delivery(topic, 0, 99, T0))
        assert await outbox.publish_pending() == 1 and outbox.published == 3
        assert await outbox.publish_pending() == 0
    async with db.read() as s:
        appended = (await s.execute(select(tables.events.c.event_id).order_by(tables.events.c.position))).scalars()
        expected = list(appended)[:3]
    assert [json.loads(raw)["event_id"] for raw in await read_log(tansu_broker.bootstrap, topic)] == expected
