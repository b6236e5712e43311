"""Statements on the hot paths: bulk inserts (sealed events, outbox rows, consumed events),
read-model upserts, and the store's reads inside a write.

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
from collections import namedtuple
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, Table, TextClause, bindparam, insert, select, text
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

# What ON CONFLICT names: a unique column, or the columns of a unique constraint.
ConflictKey = str | tuple[str, ...]

INLINE_SQLITE = "rxflow_inline_sqlite"  # session.info key: the sqlite3 connection under the session


def raw_sqlite(session: AsyncSession) -> sqlite3.Connection | None:
    """The inline sqlite3 connection under a write or read session, or None where Core must be used."""
    return session.info.get(INLINE_SQLITE)


async def insert_rows(session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT rows (all with the same keys) into table; IntegrityError as Core raises it."""
    if not rows:
        return
    sqlite = raw_sqlite(session)
    if sqlite is None:
        await (await session.connection()).execute(insert(table), list(rows))
        return
    sql, columns, converters = _insert_plan(_dialect(session), table, tuple(rows[0]))
    params = [_bound(r, columns, converters) for r in rows]
    try:
        sqlite.executemany(sql, params)
    except sqlite3.IntegrityError as exc:
        raise IntegrityError(sql, params[:1], exc) from exc


async def upsert(session: AsyncSession, table: Table, values: dict[str, Any], key: str) -> None:
    """Insert a read-model row or replace it, on SQLite and PostgreSQL alike."""
    await _on_conflict(session, table, [values], key, replace=True)


async def insert_missing(session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]],
                         key: ConflictKey) -> None:
    """INSERT rows (all with the same keys) whose key (a unique column, or the columns of a unique
    constraint) is not in table yet; the others are left as they are."""
    if rows:
        await _on_conflict(session, table, rows, key, replace=False)


async def _on_conflict(session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]],
                       key: ConflictKey, replace: bool) -> None:
    dialect = _dialect(session)
    columns = tuple(rows[0])
    sqlite = raw_sqlite(session)
    if sqlite is None:
        statement = _on_conflict_statement(dialect, table, columns, key, replace)
        await (await session.connection()).execute(statement, rows[0] if len(rows) == 1 else list(rows))
        return
    converters = _converters(dialect, table, columns)
    sqlite.executemany(_on_conflict_sql(dialect, table, columns, key, replace, "?"),
                       [_bound(r, columns, converters) for r in rows])


async def select_in(session: AsyncSession, table: Table, column: str, values: Sequence[Any]) -> list[Any]:
    """The rows of table whose column holds one of values, each column an attribute, as Core
    reads them (converted by its result processors): a read-model look-up inside a command."""
    if not values:
        return []
    sqlite = raw_sqlite(session)
    if sqlite is None:
        found = await (await session.connection()).execute(select(table).where(table.c[column].in_(values)))
        return list(found)
    sql, row_of, converters = _select_plan(_dialect(session), table, column)
    rows = sqlite.execute(sql.format(marks=marks(values)), list(values))
    return [row_of(*(v if f is None else f(v) for v, f in zip(r, converters, strict=True))) for r in rows]


def marks(values: Sequence[Any]) -> str:
    """The parameter marks of an IN (...) of these values, for sqlite3."""
    return ", ".join("?" * len(values))


def result_converter(session: AsyncSession, column: Column[Any]) -> Callable[[Any], Any]:
    """What Core does to a value of column read from the database (text to datetime on SQLite),
    for rows read straight from sqlite3."""
    dialect = _dialect(session)
    return _result_processor(dialect, column) or (lambda value: value)


def stored_utc(value: Any) -> Any:
    """A timestamp as read back, with its zone: SQLite hands them back naive, and every one
    we store is UTC. Anything else (PostgreSQL's aware values, None, non-times) is unchanged."""
    return value.replace(tzinfo=UTC) if isinstance(value, datetime) and value.tzinfo is None else value


Converter = Callable[[Any], Any] | None


def _dialect(session: AsyncSession) -> Dialect:
    assert session.bind is not None, "write sessions are bound to their engine or connection"
    return session.bind.dialect


def _bound(row: dict[str, Any], columns: tuple[str, ...], converters: tuple[Converter, ...]) -> tuple[Any, ...]:
    return tuple(row[c] if f is None else f(row[c]) for c, f in zip(columns, converters, strict=True))


@functools.cache
def _converters(dialect: Dialect, table: Table, columns: tuple[str, ...]) -> tuple[Converter, ...]:
    return tuple(table.c[c].type.dialect_impl(dialect).bind_processor(dialect) for c in columns)


@functools.cache
def _result_processor(dialect: Dialect, column: Column[Any]) -> Converter:
    return column.type.dialect_impl(dialect).result_processor(dialect, None)


@functools.cache
def _select_plan(dialect: Dialect, table: Table, column: str) -> tuple[str, Any, tuple[Converter, ...]]:
    q = dialect.identifier_preparer
    names = tuple(c.name for c in table.columns)
    sql = (f"SELECT {', '.join(q.quote(c) for c in names)} FROM {q.format_table(table)} "
           f"WHERE {q.quote(column)} IN ({{marks}})")
    return sql, namedtuple(f"{table.name}_row", names), tuple(_result_processor(dialect, c) for c in table.columns)


@functools.cache
def _insert_plan(
    dialect: Dialect, table: Table, columns: tuple[str, ...]
) -> tuple[str, tuple[str, ...], tuple[Converter, ...]]:
    missing = [c.name for c in table.columns if c.default is not None and c.name not in columns]
    if missing:  # Core would fill these in; executemany cannot
        raise ValueError(f"insert into {table.name} without {missing}, which have Python-side defaults")
    return _insert_sql(dialect, table, columns, "?"), columns, _converters(dialect, table, columns)


def _insert_sql(dialect: Dialect, table: Table, columns: tuple[str, ...], mark: str) -> str:
    """INSERT INTO table (columns) VALUES (...); mark spells a parameter ("?" for sqlite3,
    ":{}" for a named one)."""
    q = dialect.identifier_preparer
    return (f"INSERT INTO {q.format_table(table)} ({', '.join(q.quote(c) for c in columns)}) "
            f"VALUES ({', '.join(mark.format(c) for c in columns)})")


@functools.cache
def _on_conflict_statement(dialect: Dialect, table: Table, columns: tuple[str, ...], key: ConflictKey,
                           replace: bool) -> TextClause:
    """The statement for Core, with typed parameters, built once per table and columns."""
    return text(_on_conflict_sql(dialect, table, columns, key, replace, ":{}")).bindparams(
        *(bindparam(c, type_=table.c[c].type) for c in columns))


@functools.cache
def _on_conflict_sql(dialect: Dialect, table: Table, columns: tuple[str, ...], key: ConflictKey,
                     replace: bool, mark: str) -> str:
    """INSERT .. ON CONFLICT (key) DO UPDATE (replace) or DO NOTHING, spelled the same by SQLite
    and PostgreSQL.

    As text because SQLAlchemy cannot cache its own on_conflict_do_update construct on SQLite:
    it compiled the statement afresh for every row, a tenth of a service's CPU.
    """
    q = dialect.identifier_preparer
    keys = (key,) if isinstance(key, str) else key
    updates = ", ".join(f"{q.quote(c)} = excluded.{q.quote(c)}" for c in columns if c not in keys)
    action = f"DO UPDATE SET {updates}" if replace else "DO NOTHING"
    target = ", ".join(q.quote(k) for k in keys)
    return f"{_insert_sql(dialect, table, columns, mark)} ON CONFLICT ({target}) {action}"
