"""The audit service's SQL: messages waiting for the next batch, the append-only ledger, the checkpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit.ledger import Appended, LogRecord
from services.kit.rows import insert_missing, insert_rows, stored_utc

metadata = MetaData()

# Messages read from the log, kept until the next batch seals them; their Kafka position is
# unique, so a redelivery after a rebalance or a crash is stored once.
pending = Table(
    "audit_pending", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("topic", String(249), nullable=False),
    Column("partition", Integer, nullable=False),
    Column("offset", Integer, nullable=False),
    Column("log_time", DateTime(timezone=True), nullable=True),
    Column("raw", LargeBinary, nullable=False),
    UniqueConstraint("topic", "partition", "offset", name="uq_audit_pending_position"),
)

# The ledger: only ever inserted into. `line` is the entry's exact bytes, `leaf` their RFC 6962 hash.
ledger = Table(
    "audit_ledger", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("topic", String(249), nullable=False),
    Column("partition", Integer, nullable=False),
    Column("offset", Integer, nullable=False),
    Column("log_time", DateTime(timezone=True), nullable=True),
    Column("accepted", Integer, nullable=False),
    Column("reason", String(32), nullable=True),
    Column("detail", Text, nullable=True),
    Column("event_id", String(64), nullable=True, index=True),
    Column("stream_id", String(64), nullable=True),
    Column("type", String(64), nullable=True),
    Column("producer", String(32), nullable=True),
    Column("producer_seq", Integer, nullable=True),
    Column("line", LargeBinary, nullable=False),
    Column("leaf", LargeBinary, nullable=False),
    UniqueConstraint("topic", "partition", "offset", name="uq_audit_ledger_position"),
)

checkpoints = Table(
    "audit_checkpoints", metadata,
    Column("number", Integer, primary_key=True, autoincrement=False),
    Column("tree_size", Integer, nullable=False, unique=True),
    Column("root_hash", String(64), nullable=False),
    Column("timestamp", DateTime(timezone=True), nullable=False),
    Column("raw", LargeBinary, nullable=False),
)


async def add_pending(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Keep messages for the next batch; a position already kept is ignored."""
    # Not insert().values(rows): Core compiles a multi-row VALUES afresh for every batch size,
    # and that was a quarter of the audit service's CPU.
    await insert_missing(session, pending, rows, key=("topic", "partition", "offset"))


async def take_pending(session: AsyncSession, limit: int) -> tuple[list[int], list[LogRecord]]:
    """The oldest waiting messages (a prefix of each partition, as they arrived in order)."""
    rows = (await session.execute(select(pending).order_by(pending.c.id).limit(limit))).all()
    return [r.id for r in rows], [LogRecord(r.topic, r.partition, r.offset, stored_utc(r.log_time), r.raw)
                                  for r in rows]


async def seal(session: AsyncSession, taken: list[int], appended: list[Appended],
               checkpoint: tuple[int, int, str, datetime, bytes] | None) -> None:
    """Append a batch and its checkpoint, and drop what was taken from pending, in one transaction."""
    if appended:
        await insert_rows(session, ledger, [_row(a) for a in appended])
    if checkpoint:
        number, size, root, at, raw = checkpoint
        await session.execute(insert(checkpoints).values(number=number, tree_size=size, root_hash=root,
                                                         timestamp=at, raw=raw))
    if taken:
        await session.execute(delete(pending).where(pending.c.id.in_(taken)))


def _row(a: Appended) -> dict[str, Any]:
    v, r = a.verdict, a.record
    return dict(seq=a.seq, topic=r.topic, partition=r.partition, offset=r.offset, log_time=r.log_time,
                accepted=int(v.accepted), reason=v.reason, detail=v.detail[:2000] or None, event_id=v.event_id,
                stream_id=(v.stream or "")[:64] or None, type=v.type, producer=v.producer,
                producer_seq=v.producer_seq, line=a.line, leaf=a.leaf)


async def ledger_rows(session: AsyncSession, after: int = -1, limit: int = 5000) -> Sequence[Any]:
    """Ledger rows in order, a page at a time."""
    query = select(ledger).where(ledger.c.seq > after).order_by(ledger.c.seq).limit(limit)
    return (await session.execute(query)).all()


async def all_rows(session: AsyncSession, page: int = 5000) -> AsyncIterator[Any]:
    """Every ledger row in order."""
    after = -1
    while rows := await ledger_rows(session, after, page):
        for row in rows:
            yield row
        after = rows[-1].seq


async def checkpoint_rows(session: AsyncSession, after: int = 0, limit: int = 100) -> Sequence[Any]:
    query = select(checkpoints).where(checkpoints.c.number > after).order_by(checkpoints.c.number).limit(limit)
    return (await session.execute(query)).all()


async def latest_checkpoint(session: AsyncSession) -> Any:
    query = select(checkpoints).order_by(checkpoints.c.number.desc()).limit(1)
    return (await session.execute(query)).first()


async def seq_of(session: AsyncSession, event_id: str) -> int | None:
    """The first entry that holds this event."""
    query = select(func.min(ledger.c.seq)).where(ledger.c.event_id == event_id)
    return (await session.execute(query)).scalar()


async def rejections(session: AsyncSession, limit: int, after: int = -1) -> Sequence[Any]:
    query = (select(ledger.c.seq, ledger.c.topic, ledger.c.partition, ledger.c.offset, ledger.c.log_time,
                    ledger.c.reason, ledger.c.detail, ledger.c.event_id, ledger.c.line)
             .where(ledger.c.accepted == 0, ledger.c.seq > after).order_by(ledger.c.seq).limit(limit))
    return (await session.execute(query)).all()
