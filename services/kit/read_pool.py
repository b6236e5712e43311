"""Read transactions of an inline SQLite database, on connections held for the database's life.

A read through a fresh SQLAlchemy session cost about 300 us of Python: a connection checked out
of the pool, its BEGIN sent through the statement machinery, then the session's close and the
pool's reset; SQLite itself reads a stream's rows in about 10 us. Like the one writer
(group_tx.Writer), each reader is a held connection with one session bound to it, and a read is a
BEGIN and a ROLLBACK on the sqlite3 connection; the store's reads in it go straight to sqlite3
(rows.raw_sqlite). With WAL each read transaction still sees one snapshot, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.kit.group_tx import Held, hold

# Held connections beside the writer's; SQLAlchemy's pool gives out 15 (5 + 10 overflow), and
# more concurrent reads than this wait for one to be given back.
MAX_READERS = 8


class ReadPool:
    """Held read connections, opened as reads need them (at most MAX_READERS), one read at a time each."""

    def __init__(self, engine: AsyncEngine, size: int = MAX_READERS) -> None:
        self.engine, self.size = engine, size
        self._idle: asyncio.Queue[Held] = asyncio.Queue()
        self._opened = 0

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        reader = await self._take()
        keep = True
        try:
            reader.sqlite.execute("BEGIN")
            yield reader.session
        except (SQLAlchemyError, sqlite3.Error):
            keep = False  # the session or the connection may be left in a state nobody should reuse
            raise
        finally:
            try:
                if reader.sqlite.in_transaction:
                    reader.sqlite.execute("ROLLBACK")
            except sqlite3.Error:
                keep = False
            if keep:
                self._idle.put_nowait(reader)
            else:
                self._opened -= 1
                await reader.close()

    async def _take(self) -> Held:
        if self._idle.empty() and self._opened < self.size:
            self._opened += 1
            try:
                return await hold(self.engine, Held)
            except BaseException:
                self._opened -= 1
                raise
        return await self._idle.get()

    async def close(self) -> None:
        """Close the idle readers (at shutdown no read is running)."""
        while not self._idle.empty():
            self._opened -= 1
            await self._idle.get_nowait().close()
