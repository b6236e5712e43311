"""Database engine and transactions: SQLite embedded by default, PostgreSQL in production."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import MetaData, event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from services.kit import sqlite_inline
from services.kit.group_tx import DRIVER_TRANSACTIONS, DriverGroupTx, GroupTx, SessionGroupTx, Writer, hold
from services.kit.read_pool import ReadPool


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
    if not conn.info.get(DRIVER_TRANSACTIONS):
        conn.exec_driver_sql("BEGIN")


# Group commit (SQLite only): with synchronous=FULL every COMMIT is an fsync (0.2-4 ms on
# the benchmark machine), and SQLite has one writer at a time, so one commit per write would
# cap a service at ~250 writes/s. Writers that queue while one runs join its transaction,
# each in its own SAVEPOINT, and the last of them commits for all: one fsync per group.
# Nobody is answered before the COMMIT returns, so durability is unchanged (still FULL).
# A group closes after MAX_GROUP_S of work (or MAX_GROUP bodies): under steady load the queue
# never empties, and an unbounded group would keep everyone in it waiting for its commit.
MAX_GROUP = 256
MAX_GROUP_S = 0.010


@dataclass
class _Group:
    tx: GroupTx
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
        self._writer: Writer | None = None  # inline SQLite only: opened by the first write
        self._readers = ReadPool(self.engine) if self._inline else None  # read_pool.py says why
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

    async def _begin_group(self) -> GroupTx:
        if not self._inline:
            return SessionGroupTx(self.sessions())
        if self._writer is None:
            self._writer = await hold(self.engine, Writer)
        return DriverGroupTx(self._writer)

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
        """A read-only session: one transaction, one snapshot (on inline SQLite, a held reader's)."""
        if self._readers is not None:
            async with self._readers.read() as session:
                yield session
            return
        async with self.sessions() as session:
            yield session

    async def close(self) -> None:
        if self._readers is not None:
            with contextlib.suppress(Exception):
                await self._readers.close()
        writer, self._writer = self._writer, None
        if writer is not None:
            with contextlib.suppress(Exception):
                await writer.close()
        await self.engine.dispose()
