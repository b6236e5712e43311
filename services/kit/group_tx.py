"""How a group-commit transaction is begun, split into savepoints, committed and rolled back:
through a SQLAlchemy session (PostgreSQL, in-memory SQLite), or straight on the sqlite3
connection of an inline SQLite database's one writer."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from typing import Protocol, TypeVar

import aiosqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, AsyncSessionTransaction

from services.kit import rows, sqlite_inline

# Marks the held writer connection of an inline SQLite database: its transactions are begun
# and committed on the sqlite3 connection itself (see DriverGroupTx), not by SQLAlchemy.
DRIVER_TRANSACTIONS = "rxflow_driver_transactions"


class GroupTx(Protocol):
    """How one group transaction is begun, split into savepoints, committed and rolled back."""

    session: AsyncSession

    async def savepoint(self) -> None: ...
    async def release_savepoint(self) -> None: ...
    async def rollback_to_savepoint(self) -> None: ...
    async def commit(self) -> None: ...
    async def rollback(self) -> None: ...


class SessionGroupTx:
    """Through a SQLAlchemy session of its own (PostgreSQL, and in-memory SQLite in tests)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._savepoint: AsyncSessionTransaction | None = None

    async def savepoint(self) -> None:
        self._savepoint = await self.session.begin_nested()

    async def release_savepoint(self) -> None:
        assert self._savepoint is not None
        await self._savepoint.commit()

    async def rollback_to_savepoint(self) -> None:
        assert self._savepoint is not None
        await self._savepoint.rollback()

    async def commit(self) -> None:
        try:
            await self.session.commit()
        finally:
            await self.session.close()

    async def rollback(self) -> None:
        try:
            await self.session.rollback()
        finally:
            await self.session.close()


# A COMMIT is an fsync (synchronous=FULL). Handing it to aiosqlite's worker thread frees the
# loop meanwhile, but the hand-off and the two wake-ups cost about 140 us a commit here, more
# than a fast disk's fsync takes after the first write (about 250-350 us on the benchmark
# machine), and a consumer verifying one batch holds the loop far longer (about 250 us an
# event). So a commit runs on the loop while commits are quick, and on the worker once they
# turn slow (a busy or networked disk), where the loop must not wait on the disk.
SLOW_COMMIT_S = 0.002
_RECENT_WEIGHT = 0.2  # of the newest commit in the running mean: a few slow ones tip it


@dataclass
class Held:
    """A connection of an inline SQLite database held for the database's life, with the one
    session bound to it; its transactions are begun and ended on its sqlite3 connection."""

    connection: AsyncConnection
    session: AsyncSession
    sqlite: sqlite3.Connection
    driver: aiosqlite.Connection  # the sqlite3 connection's own worker thread, for slow calls

    async def close(self) -> None:
        """Give the connection back to its pool, without the driver-transaction mark."""
        await self.session.close()
        self.connection.sync_connection.info.pop(DRIVER_TRANSACTIONS, None)  # type: ignore[union-attr]
        await self.connection.close()


H = TypeVar("H", bound=Held)


async def hold(engine: AsyncEngine, kind: type[H]) -> H:
    """Check out a connection of an inline SQLite engine, marked for driver transactions, as a
    `kind` (Held for a reader, Writer for the writer)."""
    connection = await engine.connect()
    raw = await connection.get_raw_connection()
    sqlite = sqlite_inline.inline_sqlite3(raw.driver_connection)
    assert sqlite is not None, "an inline SQLite database's connections are made by sqlite_inline"
    connection.sync_connection.info[DRIVER_TRANSACTIONS] = True  # type: ignore[union-attr]
    await connection.begin()  # bookkeeping only: no BEGIN is sent (db._sqlite_begin skips it)
    session = AsyncSession(bind=connection, expire_on_commit=False)
    session.info[rows.INLINE_SQLITE] = sqlite  # the hot-path statements go straight to it
    return kind(connection, session, sqlite, raw.driver_connection)


@dataclass
class Writer(Held):
    """The one writer connection of an inline SQLite database, with the one session that every
    write body is given."""

    recent_commit_s: float = 0.0  # running mean of how long a commit took, hand-off included
    commits_on_loop: int = 0

    async def commit(self) -> None:
        """COMMIT (one fsync): on the loop while commits are quick, else on the worker thread."""
        began = time.perf_counter()
        if self.recent_commit_s < SLOW_COMMIT_S:
            self.sqlite.commit()
            self.commits_on_loop += 1
        else:
            await self.driver.commit()  # aiosqlite's commit, on its worker thread
        took = time.perf_counter() - began
        self.recent_commit_s += _RECENT_WEIGHT * (took - self.recent_commit_s)


class DriverGroupTx:
    """Straight on the sqlite3 connection: BEGIN, SAVEPOINT and COMMIT through SQLAlchemy's
    session and connection machinery cost ~370 us of Python a transaction against ~5 us in
    SQLite (more than an append's signing). SQLAlchemy holds one transaction open on the writer
    connection for good (begun without a BEGIN: db._sqlite_begin skips it), so it never autobegins or
    commits on its own; statements that bodies run through the session land in ours."""

    _SAVEPOINT = "rxflow_body"  # one body at a time holds the write lock: one name suffices

    def __init__(self, writer: Writer) -> None:
        self.session = writer.session
        self._writer = writer
        writer.sqlite.execute("BEGIN")

    async def savepoint(self) -> None:
        self._writer.sqlite.execute(f"SAVEPOINT {self._SAVEPOINT}")

    async def release_savepoint(self) -> None:
        self._writer.sqlite.execute(f"RELEASE {self._SAVEPOINT}")

    async def rollback_to_savepoint(self) -> None:
        self._writer.sqlite.execute(f"ROLLBACK TO {self._SAVEPOINT}")
        self._writer.sqlite.execute(f"RELEASE {self._SAVEPOINT}")

    async def commit(self) -> None:
        try:
            await self._writer.commit()
        except BaseException:
            await self.rollback()  # a failed COMMIT (disk full, I/O error) may leave it open
            raise

    async def rollback(self) -> None:
        if self._writer.sqlite.in_transaction:
            self._writer.sqlite.execute("ROLLBACK")

