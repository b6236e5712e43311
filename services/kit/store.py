"""The event store: append decided events (published from the same rows), load streams, track consumption."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Table, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from events.envelope import Envelope
from events.rejection import Rejected
from events.schemas import EventPayload
from events.seal import seal
from events.signing import Signer
from events.verifier import read_verified
from services.kit import tables as t
from services.kit.rows import insert_rows, marks, raw_sqlite, result_converter

_BUMP_SEQ_SQLITE = "UPDATE producer_seq SET last = last + ? WHERE producer = ? RETURNING last"
# The store's reads on the inline SQLite path (write sessions and held readers alike); the Core
# statements below say the same.
_SEEN_SQLITE = 'SELECT event_id, topic, "partition", "offset", received_at FROM inbox WHERE event_id IN ({marks})'
# Our events on a stream not yet consumed back from the log (EventStore.pending says it in Core).
_PENDING_SQLITE = ("SELECT event_id FROM events WHERE stream_id = ? AND NOT EXISTS "
                   "(SELECT 1 FROM inbox WHERE inbox.event_id = events.event_id) ORDER BY stream_version")
# Consumed events in log order; our own in stream order.
_STREAM_ORDER = {"inbox": "position", "events": "stream_version"}


async def _seen_rows(session: AsyncSession, event_ids: list[str]) -> Iterable[Any]:
    """(event_id, topic, partition, offset, received_at) of those events already consumed."""
    sqlite = raw_sqlite(session)
    if sqlite is not None:  # straight to sqlite3 (services/kit/rows.py says why)
        received_at = result_converter(session, t.inbox.c.received_at)
        return [(eid, topic, partition, offset, received_at(at)) for eid, topic, partition, offset, at
                in sqlite.execute(_SEEN_SQLITE.format(marks=marks(event_ids)), event_ids)]
    return await (await session.connection()).execute(
        select(t.inbox.c.event_id, t.inbox.c.topic, t.inbox.c.partition, t.inbox.c.offset, t.inbox.c.received_at)
        .where(t.inbox.c.event_id.in_(event_ids)))


async def first_seen_many(session: AsyncSession, event_ids: Iterable[str]) -> dict[str, Delivery]:
    """Where each of these events was first consumed from the log, for those already consumed."""
    ids = list(dict.fromkeys(event_ids))
    found: dict[str, Delivery] = {}
    for i in range(0, len(ids), 500):  # SQLite caps bound parameters
        found.update({eid: Delivery(*where) for eid, *where in await _seen_rows(session, ids[i:i + 500])})
    return found


async def stream_rows(session: AsyncSession, table: Table, stream_ids: list[str]) -> Iterable[Any]:
    """(stream_id, event_id, raw) of the streams' events in table (inbox or events), in order."""
    order = _STREAM_ORDER[table.name]
    sqlite = raw_sqlite(session)
    if sqlite is not None:  # straight to sqlite3 (services/kit/rows.py says why)
        return sqlite.execute(f"SELECT stream_id, event_id, raw FROM {table.name} "  # names are ours, not input
                              f"WHERE stream_id IN ({marks(stream_ids)}) ORDER BY {order}", stream_ids)
    return await (await session.connection()).execute(
        select(table.c.stream_id, table.c.event_id, table.c.raw)
        .where(table.c.stream_id.in_(stream_ids)).order_by(table.c[order]))


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

    def __init__(self, producer: str, parse_cache_size: int = 4096) -> None:
        self.producer = producer
        self.parse_cache_size = parse_cache_size
        self._parsed: OrderedDict[bytes, Envelope[Any]] = OrderedDict()

    async def _next_seqs(self, session: AsyncSession, n: int) -> int:
        """Reserve n producer_seq numbers; returns the first."""
        # The row lock taken by UPDATE serialises writers of this producer until commit, so
        # producer_seq, positions and commit order agree (the publisher relies on it) and a
        # rollback leaves no gap.
        sqlite = raw_sqlite(session)
        if sqlite is not None:  # straight to sqlite3 (services/kit/rows.py says why)
            found = sqlite.execute(_BUMP_SEQ_SQLITE, (n, self.producer)).fetchone()
            last = None if found is None else found[0]
        else:
            conn = await session.connection()  # Core, not the ORM session's execute: ~1 ms less per statement
            last = (await conn.execute(
                update(t.producer_seq)
                .where(t.producer_seq.c.producer == self.producer)
                .values(last=t.producer_seq.c.last + n)
                .returning(t.producer_seq.c.last)
            )).scalar_one_or_none()
        if last is None:
            await insert_rows(session, t.producer_seq, [dict(producer=self.producer, last=n)])
            last = n
        return last - n + 1

    async def append(
        self,
        session: AsyncSession,
        stream_id: str,
        expected_version: int,
        decisions: Sequence[Decision],
        now: datetime,
    ) -> list[bytes]:
        """Seal and store decisions at the versions after expected_version, to be published.

        On VersionConflict the caller must roll the transaction back (Database.write does):
        the reserved sequence numbers and any rows already written go with it, no gap is left.
        """
        if not decisions:
            return []
        first_seq = await self._next_seqs(session, len(decisions))
        rows, sealed = [], []
        for offset, d in enumerate(decisions):
            seq, version = first_seq + offset, expected_version + offset + 1
            raw = seal(d.payload, stream_id=stream_id, stream_version=version, producer=self.producer,
                       signer=d.signer, producer_seq=seq, occurred_at=now, event_id=d.event_id)
            rows.append(dict(event_id=str(d.event_id), stream_id=stream_id, stream_version=version,
                             type=d.payload.TYPE, producer_seq=seq, occurred_at=now, raw=raw))
            sealed.append(raw)
        # One statement (executemany) instead of a savepoint and an insert per event. The rows are
        # their own outbox (tables.events says why that is safe): no second copy of the bytes.
        try:
            await insert_rows(session, t.events, rows)
        except IntegrityError as exc:
            raise VersionConflict(f"{stream_id} v{expected_version + 1}.. was taken by another writer") from exc
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
        await self.record_consumed_many(session, [(event, raw, where)])

    async def record_consumed_many(
        self, session: AsyncSession, consumed: Sequence[tuple[Envelope[Any], bytes, Delivery]]
    ) -> None:
        """Keep verified events from the log, in this order (one multi-row insert)."""
        if consumed:
            await insert_rows(session, t.inbox, [dict(
                event_id=str(e.event_id), stream_id=e.stream_id, stream_version=e.stream_version,
                type=e.type, producer=e.producer, producer_seq=e.producer_seq, raw=raw,
                topic=w.topic, partition=w.partition, offset=w.offset, received_at=w.received_at,
            ) for e, raw, w in consumed])

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
        logged, pending = (await self.load_many(session, [stream_id]))[stream_id]
        return [*logged, *pending]

    async def load_many(
        self, session: AsyncSession, stream_ids: Iterable[str]
    ) -> dict[str, tuple[list[Envelope[Any]], list[Envelope[Any]]]]:
        """Per stream: the events consumed from the log in log order, and this service's own
        events not yet seen back from the log, in stream order (two queries for all streams)."""
        ids = list(dict.fromkeys(stream_ids))
        out: dict[str, tuple[list[Envelope[Any]], list[Envelope[Any]]]] = {s: ([], []) for s in ids}
        on_log: set[str] = set()
        for i in range(0, len(ids), 500):  # SQLite caps bound parameters
            chunk = ids[i:i + 500]
            for stream_id, event_id, raw in await stream_rows(session, t.inbox, chunk):
                on_log.add(event_id)
                out[stream_id][0].append(self.parse(raw))
            for stream_id, event_id, raw in await stream_rows(session, t.events, chunk):
                if event_id not in on_log:
                    out[stream_id][1].append(self.parse(raw))
        return out

    def parse(self, raw: bytes) -> Envelope[Any]:
        """read_verified, remembered: a stream is loaded again at every step of its life, and
        parsing its events again each time was the biggest cost of a command. The key is the
        bytes themselves, so a hit is the same event by construction (Envelope is frozen).
        Only for bytes this store holds (sealed here, or verified before they were stored): the
        verifier takes what is cached here as authentic (see authentic below)."""
        cache = self._parsed
        event = cache.get(raw)
        if event is None:
            event = cache[raw] = read_verified(raw)
            if len(cache) > self.parse_cache_size:
                cache.popitem(last=False)
        else:
            cache.move_to_end(raw)
        return event

    def authentic(self, raw: bytes) -> Envelope[Any] | None:
        """The event of these bytes if this store holds them as authentic, else None: every entry
        of the parse cache is bytes this service sealed itself or verified (events.verifier)."""
        return self._parsed.get(raw)

    def remember(self, raw: bytes, event: Envelope[Any]) -> None:
        """Seed the parse cache with an event the verifier has just parsed from these bytes."""
        self._parsed[raw] = event
        if len(self._parsed) > self.parse_cache_size:
            self._parsed.popitem(last=False)

    async def pending(self, session: AsyncSession, stream_id: str) -> list[str]:
        """Ids of this service's events on the stream not yet seen back from the log."""
        # Once per dispense (its wait for the claim): straight to sqlite3 where the session has it
        # (3 % of the pharmacy's CPU went to compiling and running the Core statement below).
        sqlite = raw_sqlite(session)
        if sqlite is not None:
            return [event_id for (event_id,) in sqlite.execute(_PENDING_SQLITE, (stream_id,))]
        conn = await session.connection()
        back = select(t.inbox.c.event_id).where(t.inbox.c.event_id == t.events.c.event_id).exists()
        return list((await conn.execute(
            select(t.events.c.event_id).where(t.events.c.stream_id == stream_id, ~back)
            .order_by(t.events.c.stream_version))).scalars())
