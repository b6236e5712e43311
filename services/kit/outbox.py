"""The outbox publisher: sends stored events to Kafka at least once, in each stream's order."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict

from faststream.kafka import KafkaBroker
from sqlalchemy import select, update

from services.kit import tables as t
from services.kit.db import Database

log = logging.getLogger(__name__)


class Outbox:
    """Publishes unpublished outbox rows; woken after each commit, and polling as a fallback."""

    def __init__(self, db: Database, broker: KafkaBroker, batch: int = 500) -> None:
        self.db, self.broker, self.batch = db, broker, batch
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
        by_key: dict[str, list] = defaultdict(list)
        for row in rows:
            by_key[row.key].append(row)

        async def send_in_order(stream_rows: list) -> None:
            # One stream's events go one after the other, so the log keeps their order;
            # different streams go concurrently.
            for row in stream_rows:
                await self.broker.publish(row.raw, topic=row.topic, key=row.key.encode())

        await asyncio.gather(*(send_in_order(r) for r in by_key.values()))
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
            try:
                await asyncio.wait_for(self._wake.wait(), idle_poll_s)
            except TimeoutError:
                pass
