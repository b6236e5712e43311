"""The event store: append decided events with their outbox rows, load streams, track consumption."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from events.envelope import Envelope
from events.rejection import Rejected
from events.schemas import EventPayload
from events.seal import seal
from events.signing import Signer
from events.verifier import read_verified
from services.kit import tables as t


class VersionConflict(Exception):
    """Another writer took this stream version first; the caller should reload and retry."""


@dataclass(frozen=True)
class Decision:
    """One event to append: what happened, who signed it, and its id (an argument, not random)."""

    payload: EventPayload
    signer: Signer
    event_id: UUID


@dataclass(frozen=True)
class Delivery:
    """Where a consumed message came from on the log."""

    topic: str
    partition: int | None
    offset: int | None
    received_at: datetime


class EventStore:
    """SQL event store of one service (producer)."""

    def __init__(self, producer: str, events_topic: str = "rx.events") -> None:
        self.producer = producer
        self.events_topic = events_topic

    async def _next_seq(self, session: AsyncSession) -> int:
        # The row lock taken by UPDATE serialises writers of this producer until commit,
        # so producer_seq and outbox order agree and a rollback leaves no gap.
        result = await session.execute(
            update(t.producer_seq)
            .where(t.producer_seq.c.producer == self.producer)
            .values(last=t.producer_seq.c.last + 1)
            .returning(t.producer_seq.c.last)
        )
        seq = result.scalar_one_or_none()
        if seq is None:
            await session.execute(insert(t.producer_seq).values(producer=self.producer, last=1))
            seq = 1
        return seq

    async def append(
        self,
        session: AsyncSession,
        stream_id: str,
        expected_version: int,
        decisions: Sequence[Decision],
        now: datetime,
    ) -> list[bytes]:
        """Seal and store decisions at the versions after expected_version, with outbox rows."""
        sealed = []
        for offset, d in enumerate(decisions, start=1):
            seq = await self._next_seq(session)
            version = expected_version + offset
            raw = seal(d.payload, stream_id=stream_id, stream_version=version, producer=self.producer,
                       signer=d.signer, producer_seq=seq, occurred_at=now, event_id=d.event_id)
            row = dict(event_id=str(d.event_id), stream_id=stream_id, stream_version=version,
                       type=d.payload.TYPE, producer_seq=seq, occurred_at=now, raw=raw)
            try:
                async with session.begin_nested():
                    await session.execute(insert(t.events).values(**row))
            except IntegrityError as exc:
                raise VersionConflict(f"{stream_id} v{version} was taken by another writer") from exc
            await session.execute(insert(t.outbox).values(
                event_id=row["event_id"], topic=self.events_topic, key=stream_id, raw=raw, published=False))
            sealed.append(raw)
        return sealed

    async def seen(self, session: AsyncSession, event_id: str) -> bool:
        """Has this event already been consumed from the log?"""
        return await self.first_seen(session, event_id) is not None

    async def first_seen(self, session: AsyncSession, event_id: str) -> Delivery | None:
        """Where on the log this event was first consumed, if it was."""
        found = (await session.execute(
            select(t.inbox.c.topic, t.inbox.c.partition, t.inbox.c.offset, t.inbox.c.received_at)
            .where(t.inbox.c.event_id == event_id)
        )).first()
        return Delivery(found.topic, found.partition, found.offset, found.received_at) if found else None

    async def record_consumed(
        self, session: AsyncSession, event: Envelope[Any], raw: bytes, where: Delivery
    ) -> None:
        """Keep a verified event from the log; its event_id marks it consumed."""
        await session.execute(insert(t.inbox).values(
            event_id=str(event.event_id), stream_id=event.stream_id, stream_version=event.stream_version,
            type=event.type, producer=event.producer, producer_seq=event.producer_seq, raw=raw,
            topic=where.topic, partition=where.partition, offset=where.offset, received_at=where.received_at,
        ))

    async def record_rejection(
        self, session: AsyncSession, rejected: Rejected, raw: bytes, where: Delivery
    ) -> None:
        """Keep a refused message with its reason."""
        await session.execute(insert(t.rejections).values(
            topic=where.topic, partition=where.partition, offset=where.offset,
            event_id=(rejected.event_id or "")[:64] or None, reason=rejected.reason.value,
            detail=rejected.detail[:2000], raw=raw[: 128 * 1024], received_at=where.received_at,
        ))

    async def mark_void(self, session: AsyncSession, event_id: str, reason: str) -> None:
        """Note that a consumed event lost (stale version or illegal transition)."""
        await session.execute(update(t.inbox).where(t.inbox.c.event_id == event_id).values(void_reason=reason))

    async def load(self, session: AsyncSession, stream_id: str) -> list[Envelope[Any]]:
        """The stream as this service knows it: the log's order, then its own pending events."""
        logged = await session.execute(
            select(t.inbox.c.event_id, t.inbox.c.raw)
            .where(t.inbox.c.stream_id == stream_id)
            .order_by(t.inbox.c.position)
        )
        rows = logged.all()
        on_log = {r.event_id for r in rows}
        own = await session.execute(
            select(t.events.c.event_id, t.events.c.raw)
            .where(t.events.c.stream_id == stream_id)
            .order_by(t.events.c.stream_version)
        )
        pending = [r for r in own.all() if r.event_id not in on_log]
        return [read_verified(r.raw) for r in [*rows, *pending]]

    async def pending(self, session: AsyncSession, stream_id: str) -> list[str]:
        """Ids of this service's events on the stream not yet seen back from the log."""
        own = await session.execute(select(t.events.c.event_id).where(t.events.c.stream_id == stream_id))
        logged = await session.execute(select(t.inbox.c.event_id).where(t.inbox.c.stream_id == stream_id))
        seen = {r.event_id for r in logged.all()}
        return [r.event_id for r in own.all() if r.event_id not in seen]
