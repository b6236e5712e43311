"""The consumer pipeline every service shares: verify, dedupe, keep, fold, react, in one transaction."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from events.envelope import Envelope
from events.lifecycle import Prescription, fold
from events.rejection import Reason, Rejected
from events.schemas import KeyRegistered, KeyRevoked
from events.verifier import Accepted, Verifier
from services.kit.db import Database
from services.kit.store import Delivery, EventStore

log = logging.getLogger(__name__)

# What a service does with an applied event: update read models, maybe decide new events.
React = Callable[[AsyncSession, Envelope[Any], Prescription, bool], Awaitable[None]]


@dataclass
class Outcome:
    status: str  # accepted, duplicate, rejected, void
    detail: str = ""


def kafka_time(raw_message: Any) -> datetime | None:
    """The broker's append time of a record, when the broker gives one."""
    ts = getattr(raw_message, "timestamp", None)
    return datetime.fromtimestamp(ts / 1000, UTC) if isinstance(ts, int) and ts > 0 else None


class Consumer:
    """Turns raw log messages into applied events, exactly once per event_id."""

    def __init__(self, db: Database, store: EventStore, verifier: Verifier, react: React,
                 after_commit: Callable[[], None] = lambda: None) -> None:
        self.db, self.store, self.verifier, self.react = db, store, verifier, react
        self.after_commit = after_commit

    async def handle(self, raw: bytes, where: Delivery, log_time: datetime | None = None) -> Outcome:
        """Process one message; an exception means a broken dependency and the message is redelivered."""
        result = self.verifier.verify(raw, received_at=log_time)
        if isinstance(result, Rejected):
            async with self.db.write() as s:
                await self.store.record_rejection(s, result, raw, where)
            log.warning("rejected message at %s/%s: %s", where.topic, where.offset, result.describe())
            return Outcome("rejected", result.describe())
        return await self._apply(result, where)

    async def _apply(self, accepted: Accepted, where: Delivery) -> Outcome:
        event = accepted.event
        if isinstance(event.payload, KeyRegistered | KeyRevoked):
            self.verifier.keyring.apply(event.payload)
            return Outcome("accepted", "key event")
        eid = str(event.event_id)
        async with self.db.write() as s:
            first = await self.store.first_seen(s, eid)
            if first is not None:
                return await self._duplicate(s, accepted, where, first)
            await self.store.record_consumed(s, event, accepted.raw, where)
            state, voids = fold(event.stream_id, await self.store.load(s, event.stream_id))
            void = next((v for v in voids if v.event_id == eid), None)
            if void is not None:
                await self.store.mark_void(s, eid, void.reason)
            await self.react(s, event, state, void is None)
        self.after_commit()
        if void is not None:
            log.info("void event %s (%s): %s", eid, event.type, void.reason)
            return Outcome("void", void.reason)
        return Outcome("accepted")


    async def _duplicate(self, s: AsyncSession, accepted: Accepted, where: Delivery, first: Delivery) -> Outcome:
        # The same position again is Kafka redelivering (at least once): nothing to say. The
        # same event at another position is a second copy on the log: a replay, recorded.
        if (first.topic, first.partition, first.offset) == (where.topic, where.partition, where.offset):
            return Outcome("duplicate")
        at = f"{first.topic}/{first.partition}@{first.offset}"
        rejected = Rejected(Reason.REPLAYED, f"event already consumed from {at}", str(accepted.event.event_id))
        await self.store.record_rejection(s, rejected, accepted.raw, where)
        return Outcome("rejected", rejected.describe())


def delivery_now(topic: str, partition: int | None = None, offset: int | None = None) -> Delivery:
    """A Delivery stamped with the current time."""
    return Delivery(topic, partition, offset, datetime.now(UTC))
