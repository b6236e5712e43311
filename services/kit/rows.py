"""Bulk inserts on the hot paths (sealed events, outbox rows, consumed events).

Through SQLAlchemy Core an insert of a few rows cost several hundred microseconds of Python
(execution context, parameter processing, greenlet hops) against tens in SQLite itself: most
of an append, and of consuming a batch. On an inline SQLite connection (services/kit/
sqlite_inline.py) the rows go straight to sqlite3's executemany, converted by the same
SQLAlchemy bind processors that Core would use, so what is stored is identical. Any other
connection (PostgreSQL, an in-memory test database) takes the Core path.

The inline connection is found in the session's info (Database puts it on its writer session),
not through session.connection(): that call alone is a greenlet round trip, ~30 us a time.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

INLINE_SQLITE = "rxflow_inline_sqlite"  # session.info key: the sqlite3 connection under the session


def raw_sqlite(session: AsyncSession) -> sqlite3.Connection | None:
    """The inline sqlite3 connection under a write session, or None where Core must be used."""
    return session.info.get(INLINE_SQLITE)


async def insert_rows(session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT rows (all with the same keys) into table; IntegrityError as Core raises it."""
    if not rows:
        return
    sqlite = raw_sqlite(session)
    if sqlite is None:
        await (await session.connection()).execute(insert(table), list(rows))
        return
    assert session.bind is not None
    sql, columns, converters = _plan(session.bind.dialect, table, tuple(rows[0]))
    params = [tuple(r[c] if f is None else f(r[c]) for c, f in zip(columns, converters, strict=True)) for r in rows]
    try:
        sqlite.executemany(sql, params)
    except sqlite3.IntegrityError as exc:
        raise IntegrityError(sql, params[:1], exc) from exc


Converter = Callable[[Any], Any] | None


@functools.cache
def _plan(
    dialect: Dialect, table: Table, columns: tuple[str, ...]
) -> tuple[str, tuple[str, ...], tuple[Converter, ...]]:
    missing = [c.name for c in table.columns if c.default is not None and c.name not in columns]
    if missing:  # Core would fill these in; executemany cannot
        raise ValueError(f"insert into {table.name} without {missing}, which have Python-side defaults")
    q = dialect.identifier_preparer
    sql = (f"INSERT INTO {q.format_table(table)} ({', '.join(q.quote(c) for c in columns)}) "
           f"VALUES ({', '.join('?' for _ in columns)})")
    converters = tuple(table.c[c].type.dialect_impl(dialect).bind_processor(dialect) for c in columns)
    return sql, columns, converters
