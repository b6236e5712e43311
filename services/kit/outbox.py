"""The outbox publisher: sends stored events to Kafka at least once, in each stream's order.

A service's events table is its own outbox (services/kit/tables.py says why that is safe):
the publisher sends the rows past a cursor and then moves the cursor. Appending an event thus
writes it once, where a separate outbox row held a second copy of its bytes and two more
indexes: a fifth of an append's time on SQLite. Messages that are not events of the store (the
audit's checkpoints) still go through outbox rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from faststream.kafka import KafkaBroker
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit import tables as t
from services.kit.db import Database
from services.kit.rows import raw_sqlite, upsert
from services.kit.store import first_seen_many

log = logging.getLogger(__name__)

# StoreEvents.pending on the inline SQLite path; the Core statements there say the same.
_CURSOR_SQLITE = "SELECT position FROM publish_cursor WHERE topic = ?"
_AFTER_SQLITE = "SELECT position, event_id, stream_id, raw FROM events WHERE position > ? ORDER BY position LIMIT ?"


@dataclass(frozen=True)
class Pending:
    """A message waiting to be published, and where it is kept (a position or an outbox id)."""

    mark: int
    event_id: str
    topic: str
    key: str
    raw: bytes


class Source(Protocol):
    """Where the messages to publish are kept, and how having published them is recorded."""

    async def pending(self, session: AsyncSession, limit: int) -> Sequence[Pending]: ...
    async def published(self, session: AsyncSession, sent: Sequence[Pending]) -> None: ...


class StoreEvents:
    """The service's own events, in the order they committed, past the publish cursor."""

    def __init__(self, topic: str) -> None:
        self.topic = topic

    async def pending(self, session: AsyncSession, limit: int) -> Sequence[Pending]:
        # No cursor yet (a new database, or one from before the cursor): from the start. What is
        # already on the log is recognised there by the publisher and not sent again.
        sqlite = raw_sqlite(session)
        if sqlite is not None:  # straight to sqlite3 (services/kit/rows.py says why)
            found = sqlite.execute(_CURSOR_SQLITE, (self.topic,)).fetchone()
            rows: Iterable[Any] = sqlite.execute(_AFTER_SQLITE, (found[0] if found else 0, limit))
        else:
            cursor = (await session.execute(select(t.publish_cursor.c.position).where(
                t.publish_cursor.c.topic == self.topic))).scalar_one_or_none() or 0
            rows = await session.execute(
                select(t.events.c.position, t.events.c.event_id, t.events.c.stream_id, t.events.c.raw)
                .where(t.events.c.position > cursor).order_by(t.events.c.position).limit(limit))
        return [Pending(position, event_id, self.topic, stream_id, raw) for position, event_id, stream_id, raw in rows]

    async def published(self, session: AsyncSession, sent: Sequence[Pending]) -> None:
        await upsert(session, t.publish_cursor, dict(topic=self.topic, position=max(p.mark for p in sent)), "topic")


class OutboxRows:
    """Rows of the outbox table not yet published, in the order they were written."""

    async def pending(self, session: AsyncSession, limit: int) -> Sequence[Pending]:
        rows = await session.execute(select(t.outbox.c.id, t.outbox.c.event_id, t.outbox.c.topic, t.outbox.c.key,
                                            t.outbox.c.raw)
                                     .where(t.outbox.c.published.is_(False)).order_by(t.outbox.c.id).limit(limit))
        return [Pending(*row) for row in rows]

    async def published(self, session: AsyncSession, sent: Sequence[Pending]) -> None:
        await session.execute(update(t.outbox).where(t.outbox.c.id.in_([p.mark for p in sent])).values(published=True))


class Outbox:
    """Publishes what its source holds; woken after each commit, and polling as a fallback."""

    def __init__(self, db: Database, broker: KafkaBroker, source: Source, batch: int = 500,
                 linger_s: float = 0.0) -> None:
        self.db, self.broker, self.source, self.batch, self.linger_s = db, broker, source, batch, linger_s
        self._wake = asyncio.Event()
        self.published = 0

    def wake(self) -> None:
        """Called after a transaction that wrote something to publish."""
        self._wake.set()

    async def publish_pending(self) -> int:
        """Publish one batch; returns how many messages it took from the source."""
        async with self.db.read() as s:
            pending = await self.source.pending(s, self.batch)
            # A service rebuilding from the log re-derives events already there (same ids):
            # publishing them again would only put a replay on the log.
            on_log = await first_seen_many(s, (p.event_id for p in pending))
        if not pending:
            return 0
        sending = [p for p in pending if p.event_id not in on_log]
        # Every message is handed to the producer first and the acknowledgements awaited after:
        # the producer batches them into a few requests instead of one round trip per event.
        # Order within a stream holds: one key goes to one partition, records are appended to
        # its batch in this order, and aiokafka keeps one request in flight per broker, so a
        # retry cannot overtake. They count as published only when all are acked.
        sends = [await self.broker.publish(p.raw, topic=p.topic, key=p.key.encode(), no_confirm=True)
                 for p in sending]
        await asyncio.gather(*(f for f in sends if f is not None))  # the in-memory test broker returns None
        async with self.db.write() as s:
            await self.source.published(s, pending)
        self.published += len(sending)
        return len(pending)

    async def run(self, idle_poll_s: float = 0.25) -> None:
        """Publish forever; a broker error is retried, nothing is dropped."""
        while True:
            # Cleared before the read: a commit the read may have missed calls wake() after it.
            # So a batch is read again at once only if it was full or something committed since
            # (reading again to find nothing was half of all reads), and a commit during an
            # empty read wakes the wait below instead of waiting for the next poll.
            self._wake.clear()
            try:
                taken = await self.publish_pending()
                if taken >= self.batch or (taken and self._wake.is_set()):
                    continue
            except asyncio.CancelledError:
                raise
            except Exception:  # broker or database down: keep what waits, try again shortly
                log.exception("outbox publish failed; retrying")
                await asyncio.sleep(1.0)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), idle_poll_s)
            if self.linger_s and self._wake.is_set():
                await asyncio.sleep(self.linger_s)  # let commits close behind this one join its request
