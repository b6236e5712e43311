"""The outbox publisher: sends stored events to Kafka at least once, in each stream's order."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from faststream.kafka import KafkaBroker
from sqlalchemy import select, update

from services.kit import tables as t
from services.kit.db import Database

log = logging.getLogger(__name__)


class Outbox:
    """Publishes unpublished outbox rows; woken after each commit, and polling as a fallback."""

    def __init__(self, db: Database, broker: KafkaBroker, batch: int = 500, linger_s: float = 0.0) -> None:
        self.db, self.broker, self.batch, self.linger_s = db, broker, batch, linger_s
        self._wake = asyncio.Event()
        self.published = 0

    def wake(self) -> None:
        """Called after a transaction that wrote outbox rows."""
        self._wake.set()

    async def publish_pending(self) -> int:
        """Publish one batch; returns how many rows were sent."""
        async with self.db.read() as s:
            rows = (await s.execute(
                select(t.outbox.c.id, t.outbox.c.event_id, t.outbox.c.topic, t.outbox.c.key, t.outbox.c.raw)
                .where(t.outbox.c.published.is_(False)).order_by(t.outbox.c.id).limit(self.batch)
            )).all()
            # A service rebuilding from the log re-derives events already there (same ids):
            # publishing them again would only put a replay on the log.
            on_log = set((await s.execute(
                select(t.inbox.c.event_id).where(t.inbox.c.event_id.in_([r.event_id for r in rows]))
            )).scalars()) if rows else set()
        if not rows:
            return 0
        done = [r.id for r in rows]
        rows = [r for r in rows if r.event_id not in on_log]
        # Every row is handed to the producer first and the acknowledgements awaited after:
        # the producer batches them into a few requests instead of one round trip per event.
        # Order within a stream holds: one key goes to one partition, records are appended to
        # its batch in this (outbox id) order, and aiokafka keeps one request in flight per
        # broker, so a retry cannot overtake. Rows are marked published only when all are acked.
        sends = [await self.broker.publish(row.raw, topic=row.topic, key=row.key.encode(), no_confirm=True)
                 for row in rows]
        await asyncio.gather(*(f for f in sends if f is not None))  # the in-memory test broker returns None
        async with self.db.write() as s:
            await s.execute(update(t.outbox).where(t.outbox.c.id.in_(done)).values(published=True))
        self.published += len(rows)
        return len(done)

    async def run(self, idle_poll_s: float = 0.25) -> None:
        """Publish forever; a broker error is retried, nothing is dropped."""
        while True:
            try:
                if await self.publish_pending():
                    continue
            except asyncio.CancelledError:
                raise
            except Exception:  # broker or database down: keep the rows, try again shortly
                log.exception("outbox publish failed; retrying")
                await asyncio.sleep(1.0)
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), idle_poll_s)
            if self.linger_s and self._wake.is_set():
                await asyncio.sleep(self.linger_s)  # let commits close behind this one join its request
