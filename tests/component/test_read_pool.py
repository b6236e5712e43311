"""Reads on held SQLite connections: one snapshot per read, bounded, and a broken reader dropped."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select, text
from sqlalchemy.exc import OperationalError

from services.kit import read_pool, rows
from services.kit.db import Database
from tests.component.harness import sqlite_db

metadata = MetaData()
notes = Table("notes", metadata, Column("id", Integer, primary_key=True), Column("text", String(20)))


@pytest.fixture
async def db(tmp_path):
    async with sqlite_db(tmp_path / "reads.db", metadata) as database:
        yield database


async def _count(session) -> int:
    return (await session.execute(select(func.count()).select_from(notes))).scalar_one()


async def _add(db: Database, n: int = 1) -> None:
    async with db.write() as s:
        await s.execute(insert(notes), [{"text": f"n{i}"} for i in range(n)])


async def test_a_read_sees_one_snapshot_through_the_session_and_straight_through_sqlite3(db):
    await _add(db)
    async with db.read() as s:
        sqlite = rows.raw_sqlite(s)
        assert sqlite is not None  # the store's reads in it take the direct path
        before = (await _count(s), sqlite.execute("SELECT count(*) FROM notes").fetchone()[0])
        await _add(db)  # committed while the read is open
        after = (await _count(s), sqlite.execute("SELECT count(*) FROM notes").fetchone()[0])
    assert before == after == (1, 1)
    async with db.read() as s:  # the next read begins a new snapshot, on the same connection
        assert await _count(s) == 2


async def test_concurrent_reads_beyond_the_bound_wait_for_a_reader_and_all_finish(db):
    await _add(db, 3)
    pool = db._readers
    assert pool is not None
    busy = peak = 0
    release = asyncio.Event()

    async def read() -> int:
        nonlocal busy, peak
        async with db.read() as s:
            busy += 1
            peak = max(peak, busy)
            await release.wait()  # holds its reader, as a slow page would
            n = await _count(s)
            busy -= 1
            return n

    tasks = [asyncio.create_task(read()) for _ in range(read_pool.MAX_READERS * 2)]
    for _ in range(500):  # opening a reader starts its aiosqlite thread: real waits
        if peak == read_pool.MAX_READERS:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)  # and no read beyond the bound gets in meanwhile
    assert peak == read_pool.MAX_READERS and pool._opened == read_pool.MAX_READERS
    release.set()
    assert await asyncio.gather(*tasks) == [3] * len(tasks)
    assert pool._opened == read_pool.MAX_READERS and pool._idle.qsize() == read_pool.MAX_READERS


async def test_a_read_that_fails_in_sql_drops_its_reader_and_the_next_read_works(db):
    await _add(db, 2)
    with pytest.raises(OperationalError):
        async with db.read() as s:
            await s.execute(text("SELECT * FROM no_such_table"))
    assert db._readers is not None and db._readers._opened == 0  # not handed to the next read
    async with db.read() as s:
        assert await _count(s) == 2


async def test_an_error_outside_sql_gives_the_reader_back_with_its_transaction_ended(db):
    with pytest.raises(LookupError):
        async with db.read() as s:
            sqlite = rows.raw_sqlite(s)
            raise LookupError("a 404 raised inside a read")
    assert sqlite is not None and not sqlite.in_transaction
    assert db._readers is not None and db._readers._idle.qsize() == 1
