"""Database engine and transactions: SQLite embedded by default, PostgreSQL in production."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from sqlalchemy import MetaData, event
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    AsyncSessionTransaction,
    async_sessionmaker,
    create_async_engine,
)

from services.kit import rows, sqlite_inline


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    # The driver's own implicit BEGIN is off (we emit BEGIN in _sqlite_begin), so that
    # SAVEPOINT works inside our transactions (SQLAlchemy's documented pysqlite/aiosqlite recipe).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    # WAL lets readers run beside the writer; synchronous=FULL keeps every commit on disk,
    # because an acknowledged prescription must survive a power cut.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def _sqlite_begin(conn) -> None:  # type: ignore[no-untyped-def]
    if not conn.info.get(_DRIVER_TRANSACTIONS):
        conn.exec_driver_sql("BEGIN")


# Marks the held writer connection of an inline SQLite database: its transactions are begun
# and committed on the sqlite3 connection itself (see _DriverGroupTx), not by SQLAlchemy.
_DRIVER_TRANSACTIONS = "rxflow_driver_transactions"


# Group commit (SQLite only): with synchronous=FULL every COMMIT is an fsync (about 4 ms on
# the benchmark machine), and SQLite has one writer at a time, so one commit per write would
# cap a service at ~250 writes/s. Writers that queue while one runs join its transaction,
# each in its own SAVEPOINT, and the last of them commits for all: one fsync per group.
# Nobody is answered before the COMMIT returns, so durability is unchanged (still FULL).
# A group closes after MAX_GROUP_S of work (or MAX_GROUP bodies): under steady load the queue
# never empties, and an unbounded group would keep everyone in it waiting for its commit.
MAX_GROUP = 256
MAX_GROUP_S = 0.010


class _GroupTx(Protocol):
    """How one group transaction is begun, split into savepoints, committed and rolled back."""

    session: AsyncSession

    async def savepoint(self) -> None: ...
    async def release_savepoint(self) -> None: ...
    async def rollback_to_savepoint(self) -> None: ...
    async def commit(self) -> None: ...
    async def rollback(self) -> None: ...


class _SessionGroupTx:
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


@dataclass
class _Writer:
    """The one writer connection of an inline SQLite database, held for the database's life,
    with the one session that every write body is given."""

    connection: AsyncConnection
    session: AsyncSession
    sqlite: sqlite3.Connection
    commit: Callable[[], Awaitable[None]]  # aiosqlite's commit: the fsync runs on its worker thread


class _DriverGroupTx:
    """Straight on the sqlite3 connection: BEGIN, SAVEPOINT and COMMIT through SQLAlchemy's
    session and connection machinery cost ~370 us of Python a transaction against ~5 us in
    SQLite (more than an append's signing). SQLAlchemy holds one transaction open on the writer
    connection for good (begun without a BEGIN, see _sqlite_begin), so it never autobegins or
    commits on its own; statements that bodies run through the session land in ours."""

    _SAVEPOINT = "rxflow_body"  # one body at a time holds the write lock: one name suffices

    def __init__(self, writer: _Writer) -> None:
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


@dataclass
class _Group:
    tx: _GroupTx
    done: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    members: int = 0
    opened: float = field(default_factory=time.monotonic)


class Database:
    """One service's database, with a write transaction helper."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite and ":///" in url and not url.endswith(":memory:"):
            Path(url.split(":///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
        path = url.split(":///", 1)[1] if self.is_sqlite and ":///" in url else None
        self._inline = bool(path and path != ":memory:")
        if self._inline:
            self.engine: AsyncEngine = create_async_engine(
                url, pool_pre_ping=False, async_creator=lambda: sqlite_inline.connect(path))
        else:
            self.engine = create_async_engine(url, pool_pre_ping=not self.is_sqlite)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
            event.listen(self.engine.sync_engine, "begin", _sqlite_begin)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer at a time; queueing writers here avoids SQLITE_BUSY on
        # lock upgrades. PostgreSQL writers run concurrently and meet at the unique keys.
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        self._group: _Group | None = None
        self._writer: _Writer | None = None  # inline SQLite only: opened by the first write
        self._queued = 0  # writers waiting for the lock: they will join the open group
        self.commits = 0  # transactions committed (one per group on SQLite)
        self.writes = 0  # write() bodies that ran

    async def create_all(self, *metadatas: MetaData) -> None:
        """Create missing tables (the schema is additive; no migrations yet)."""
        async with self.engine.begin() as conn:
            for metadata in metadatas:
                await conn.run_sync(metadata.create_all)

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A transaction that commits on success and rolls back on any exception.

        On SQLite the body runs in a savepoint of a shared group transaction; leaving the
        block waits until that transaction has committed (or raises its commit error).
        """
        self.writes += 1
        if self._write_lock is None:
            async with self.sessions.begin() as session:
                yield session
            self.commits += 1
            return
        lock = self._write_lock
        self._queued += 1
        try:
            await lock.acquire()
        except BaseException:
            # Cancelled while queued: whoever left the group to us may be waiting for a commit.
            self._queued -= 1
            asyncio.ensure_future(self._commit_open_group())
            raise
        self._queued -= 1
        held = True
        try:
            group = self._group
            first = group is None
            if group is None:
                group = self._group = _Group(await self._begin_group())
            group.members += 1
            # The first body is alone in the transaction (the others join after it): it needs no
            # savepoint, a failure rolls the whole transaction back. Two statements fewer.
            if not first:
                await group.tx.savepoint()
            body_error: BaseException | None = None
            try:
                yield group.tx.session
            except BaseException as exc:  # this body's work is undone; the group's stays
                body_error = exc
                if first:
                    await self._fail_group(group)
                    raise
                try:
                    await group.tx.rollback_to_savepoint()
                except BaseException:
                    await self._fail_group(group)
                    raise
            else:
                if not first:
                    await group.tx.release_savepoint()
            if not self._queued and group.members < MAX_GROUP:
                # Writers woken with us (by the last commit, or by the same batch of requests) have
                # not reached the lock yet: two turns of the loop (the commit's future, then the
                # shield's) let them queue and join this transaction. Without them the first of
                # them committed alone and groups held half the writers waiting (16 writers: 8.2
                # bodies a commit, against 15.3 with them).
                await asyncio.sleep(0)
                await asyncio.sleep(0)
            if self._queued and group.members < MAX_GROUP and time.monotonic() - group.opened < MAX_GROUP_S:
                lock.release()  # the writers queued behind us join this transaction
                held = False
                await asyncio.shield(group.done)
            else:
                await self._commit(group)
            if body_error is not None:
                raise body_error
        finally:
            if held:
                lock.release()

    async def _begin_group(self) -> _GroupTx:
        if not self._inline:
            return _SessionGroupTx(self.sessions())
        if self._writer is None:
            self._writer = await self._open_writer()
        return _DriverGroupTx(self._writer)

    async def _open_writer(self) -> _Writer:
        connection = await self.engine.connect()
        raw = await connection.get_raw_connection()
        sqlite = sqlite_inline.inline_sqlite3(raw.driver_connection)
        assert sqlite is not None, "an inline SQLite database's connections are made by sqlite_inline"
        connection.sync_connection.info[_DRIVER_TRANSACTIONS] = True  # type: ignore[union-attr]
        await connection.begin()  # bookkeeping only: no BEGIN is sent (see _sqlite_begin)
        session = AsyncSession(bind=connection, expire_on_commit=False)
        session.info[rows.INLINE_SQLITE] = sqlite  # the hot-path inserts go straight to it
        return _Writer(connection, session, sqlite, raw.driver_connection.commit)

    async def _commit(self, group: _Group) -> None:
        """Commit the open group (lock held), then wake its members."""
        self._group = None
        try:
            await group.tx.commit()
        except BaseException as exc:
            if not group.done.done():
                group.done.set_exception(exc)
                group.done.exception()  # retrieved: members that already left must not warn
            raise
        self.commits += 1
        group.done.set_result(None)

    async def _fail_group(self, group: _Group) -> None:
        self._group = None
        with contextlib.suppress(Exception):
            await group.tx.rollback()
        if not group.done.done():
            group.done.set_exception(RuntimeError("group transaction rolled back"))
            group.done.exception()

    async def _commit_open_group(self) -> None:
        async with self._write_lock or contextlib.nullcontext():
            if self._group is not None:
                await self._commit(self._group)

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read-only session."""
        async with self.sessions() as session:
            yield session

    async def close(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            with contextlib.suppress(Exception):
                await writer.session.close()
                writer.connection.sync_connection.info.pop(_DRIVER_TRANSACTIONS, None)  # type: ignore[union-attr]
                await writer.connection.close()
        await self.engine.dispose()
