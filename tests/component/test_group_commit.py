"""SQLite group commit: concurrent writes share one fsync, yet each succeeds or fails alone."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select

from services.kit import db as kit_db
from services.kit import group_tx
from services.kit.db import Database
from tests.component.harness import sqlite_db

metadata = MetaData()
notes = Table("notes", metadata, Column("id", Integer, primary_key=True), Column("text", String(20), unique=True))


@pytest.fixture
async def db(tmp_path):
    async with sqlite_db(tmp_path / "group.db", metadata) as database:
        yield database


async def _count(db: Database) -> int:
    async with db.read() as s:
        return (await s.execute(select(func.count()).select_from(notes))).scalar_one()


async def test_concurrent_writers_share_commits_and_a_failing_one_leaves_nothing(db, monkeypatch):
    monkeypatch.setattr(kit_db, "MAX_GROUP_S", 10.0)  # a slow machine must not close every group at once

    async def write(i: int) -> str:
        try:
            async with db.write() as s:
                await s.execute(insert(notes).values(text=f"n{i}"))
                if i % 5 == 0:
                    raise ValueError("refused")
            return "ok"
        except ValueError:
            return "refused"

    outcomes = await asyncio.gather(*(write(i) for i in range(50)))
    assert outcomes.count("refused") == 10
    assert await _count(db) == 40  # every refused body was rolled back, no one else's
    assert db.commits < db.writes  # fewer fsyncs than transactions


async def test_a_writer_is_answered_only_once_its_work_is_committed(db):
    async def write(i: int) -> int:
        async with db.write() as s:
            await s.execute(insert(notes).values(text=f"w{i}"))
        return await _count(db)  # read on another connection: sees only committed rows

    seen = await asyncio.gather(*(write(i) for i in range(20)))
    assert all(n >= 1 for n in seen) and max(seen) == 20


async def test_a_constraint_violation_fails_only_its_own_body(db):
    async with db.write() as s:
        await s.execute(insert(notes).values(text="taken"))

    async def write(text: str) -> str:
        try:
            async with db.write() as s:
                await s.execute(insert(notes).values(text=text))
            return "ok"
        except Exception:
            return "conflict"

    assert await asyncio.gather(write("a"), write("taken"), write("b")) == ["ok", "conflict", "ok"]
    assert await _count(db) == 3


async def test_writers_woken_by_a_commit_join_the_next_group_together(db, monkeypatch):
    monkeypatch.setattr(kit_db, "MAX_GROUP_S", 10.0)  # a slow machine must not close every group at once

    async def writer(w: int) -> None:
        for i in range(20):
            async with db.write() as s:
                await s.execute(insert(notes).values(text=f"{w}-{i}"))

    await asyncio.gather(*(writer(w) for w in range(16)))
    assert await _count(db) == 320
    # All sixteen come back from a commit at once: they should share the next one, not split
    # into a writer alone and the fifteen behind it (which averaged ~8 bodies a commit).
    assert db.writes / db.commits > 12, (db.writes, db.commits)


async def test_quick_commits_run_on_the_loop_and_slow_ones_on_the_worker_thread(db, monkeypatch):
    async def write(text: str) -> None:
        async with db.write() as s:
            await s.execute(insert(notes).values(text=text))

    await write("quick")
    writer = db._writer
    assert writer is not None and writer.commits_on_loop == 1
    # A slow disk: the running mean is past the limit, so the fsync goes to aiosqlite's thread,
    # and what it committed is there for another connection all the same.
    monkeypatch.setattr(writer, "recent_commit_s", 10.0)
    for i in range(3):
        await write(f"slow{i}")
    assert writer.commits_on_loop == 1 and await _count(db) == 4
    # Quick again: each commit pulls the mean down, and commits come back to the loop.
    for i in range(60):
        await write(f"again{i}")
    assert writer.recent_commit_s < group_tx.SLOW_COMMIT_S
    assert writer.commits_on_loop > 1 and await _count(db) == 64
