"""SQLite connections whose statements run on the event loop's thread, and slow commits off it.

aiosqlite runs every call on a worker thread: each statement costs a queue hand-off, a thread
wake-up, a GIL hand-over and a wake-up of the loop, which together took a quarter of a
service's CPU, more than SQLite spent on the statements themselves (tens of microseconds on
a local file). Only the COMMIT waits on the disk (synchronous=FULL: an fsync), so aiosqlite's
commit stays on the worker thread, for the writer to use once commits turn slow
(group_tx.Writer.commit decides).

Nothing blocks inside a statement: a service's only writer is serialised by Database's lock,
and with WAL, readers and the writer never wait for each other.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import aiosqlite


async def connect(path: str) -> aiosqlite.Connection:
    """An aiosqlite connection (what SQLAlchemy's aiosqlite dialect drives) that runs inline."""
    # check_same_thread off: statements run here, commits on the worker, never both at once
    # (each awaits the other), which Python's sqlite3 allows for one connection.
    conn = await aiosqlite.connect(path, check_same_thread=False)
    on_worker = conn._execute

    async def run(fn: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(fn, "__name__", None) == "commit":
            return await on_worker(fn, *args, **kwargs)
        return fn(*args, **kwargs)

    conn._execute = run  # type: ignore[method-assign]
    conn.rxflow_inline = True  # type: ignore[attr-defined]
    return conn


def inline_sqlite3(driver_connection: Any) -> sqlite3.Connection | None:
    """The sqlite3 connection under an inline aiosqlite connection (made by connect above), on
    which the loop's thread may run statements itself; None for any other driver connection."""
    if getattr(driver_connection, "rxflow_inline", False):
        return driver_connection._conn  # type: ignore[no-any-return]
    return None
