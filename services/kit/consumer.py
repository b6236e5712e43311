"""The consumer pipeline every service shares: verify, dedupe, keep, fold, react, in one transaction."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from events.envelope import Envelope
from events.fastverify import FastVerifier
from events.lifecycle import Prescription, Void, evolve, fold_on
from events.rejection import Reason, Rejected
from events.schemas import KeyRegistered, KeyRevoked
from events.verifier import Accepted, Verifier
from services.kit.db import Database
from services.kit.fold_cache import FoldCache
from services.kit.store import Delivery, EventStore, first_seen_many

log = logging.getLogger(__name__)

# What a service does with an applied event: maybe decide and append new events, which it
# returns (parsed). `applied` is False for a void event, which must trigger nothing.
React = Callable[[AsyncSession, Envelope[Any], Prescription, bool], Awaitable[list[Envelope[Any]]]]
# Write the read model of one prescription from its state.
Project = Callable[[AsyncSession, Prescription], Awaitable[None]]
# Return once the keys topic is applied to an end it had after this moment (KeysReader.caught_up).
KeysCaughtUp = Callable[[float], Awaitable[None]]
# Refusals that a key event not yet read would change: the keys topic is read apart from events.
KEY_REASONS = frozenset({Reason.UNKNOWN_KEY, Reason.KEY_NOT_VALID})


@dataclass
class Outcome:
    status: str  # accepted, duplicate, rejected, void
    detail: str = ""


def kafka_time(raw_message: Any) -> datetime | None:
    """The broker's append time of a record, when the broker gives one."""
    ts = getattr(raw_message, "timestamp", None)
    return datetime.fromtimestamp(ts / 1000, UTC) if isinstance(ts, int) and ts > 0 else None


@dataclass
class _Stream:
    """One stream while a batch is applied: the fold of what came from the log, and our own
    events not yet seen back from it (they fold after the log's, as EventStore.load orders them)."""

    logged: Prescription
    pending: list[Envelope[Any]]
    # What `logged` is the fold of (the ids in log order) and its void events: the next load of
    # the stream returns these events first, so the fold cache can start where this batch ends.
    ids: list[UUID] = field(default_factory=list)
    voids: list[Void] = field(default_factory=list)
    touched: bool = False

    def state(self) -> Prescription:
        return fold_on(self.logged, self.pending)[0]


@dataclass
class _Batch:
    seen: dict[str, Delivery] = field(default_factory=dict)  # event_id -> where first consumed
    consumed: list[tuple[Envelope[Any], bytes, Delivery]] = field(default_factory=list)
    streams: dict[str, _Stream] = field(default_factory=dict)


class Consumer:
    """Turns raw log messages into applied events, exactly once per event_id."""

    def __init__(self, db: Database, store: EventStore, verifier: Verifier | FastVerifier, react: React,
                 project: Project, after_commit: Callable[[Sequence[Envelope[Any]]], None] = lambda _events: None,
                 folds: FoldCache | None = None, keys_caught_up: KeysCaughtUp | None = None) -> None:
        self.db, self.store, self.verifier, self.react, self.project = db, store, verifier, react, project
        self.after_commit = after_commit
        self.folds = folds or FoldCache()
        self.keys_caught_up = keys_caught_up

    async def handle(self, raw: bytes, where: Delivery, log_time: datetime | None = None) -> Outcome:
        """Process one message; an exception means a broken dependency and the message is redelivered.
        A refusal for a key reason is final here: the keys reader calls this for key events."""
        return (await self.handle_batch([(raw, where, log_time)]))[0]

    async def handle_batch(self, messages: Sequence[tuple[bytes, Delivery, datetime | None]],
                           fetched_at: float | None = None) -> list[Outcome]:
        """Process messages in log order in ONE transaction (one fsync); an exception rolls all of
        them back and the caller must not acknowledge any (they are redelivered, deduped by event_id).

        fetched_at: when the batch came from the broker (the event loop's clock); given, a refusal
        for a key reason waits for the keys topic to be read up to then, and is judged again."""
        # Verification is pure CPU: done before the transaction, so the write lock is held briefly.
        checked = [(self.verifier.verify(raw, received_at=t), raw, where) for raw, where, t in messages]
        if fetched_at is not None and self.keys_caught_up is not None:
            checked = await self._with_keys_read(checked, messages, fetched_at)
        outcomes: list[Outcome | None] = [None] * len(checked)
        for i, (result, _, _) in enumerate(checked):
            if isinstance(result, Accepted) and isinstance(result.event.payload, KeyRegistered | KeyRevoked):
                self.verifier.keyring.apply(result.event.payload)
                outcomes[i] = Outcome("accepted", "key event")
        if all(o is not None for o in outcomes):
            return outcomes  # type: ignore[return-value]
        voids: list[tuple[str, str, str]] = []
        async with self.db.write() as s:
            batch = _Batch()
            fresh = [r.event for r, _, _ in checked if isinstance(r, Accepted)]
            batch.seen = await first_seen_many(s, (str(e.event_id) for e in fresh))
            streams = {e.stream_id for e in fresh if str(e.event_id) not in batch.seen}
            for stream_id, (logged, pending) in (await self.store.load_many(s, streams)).items():
                state, earlier_voids = self.folds.fold(stream_id, logged)
                batch.streams[stream_id] = _Stream(state, pending, [e.event_id for e in logged], earlier_voids)
            for i, (result, raw, where) in enumerate(checked):
                if outcomes[i] is not None:
                    continue
                if isinstance(result, Rejected):
                    await self.store.record_rejection(s, result, raw, where)
                    log.warning("rejected message at %s/%s: %s", where.topic, where.offset, result.describe())
                    outcomes[i] = Outcome("rejected", result.describe())
                else:
                    outcomes[i] = await self._apply(s, batch, result, where, voids)
            # Rows are written after the fold, in log order: one insert for the whole batch.
            await self.store.record_consumed_many(s, batch.consumed)
            for eid, _, reason in voids:
                await self.store.mark_void(s, eid, reason)
            # The read model is written once per stream, from its last state: the same rows as
            # writing it after every event, since nobody sees inside the transaction.
            for stream in batch.streams.values():
                if stream.touched:
                    await self.project(s, stream.state())
        for stream_id, stream in batch.streams.items():
            if stream.touched:
                self.folds.remember(stream_id, tuple(stream.ids), stream.logged, tuple(stream.voids))
        self.after_commit([e for e, _, _ in batch.consumed])
        for eid, kind, reason in voids:
            log.info("void event %s (%s): %s", eid, kind, reason)
        return outcomes  # type: ignore[return-value]

    async def _with_keys_read(self, checked: list[tuple[Accepted | Rejected, bytes, Delivery]],
                              messages: Sequence[tuple[bytes, Delivery, datetime | None]],
                              fetched_at: float) -> list[tuple[Accepted | Rejected, bytes, Delivery]]:
        # A key registered just before its first event can still be on its way through the keys
        # reader: refusing the event then would drop a good prescription for this service forever.
        doubtful = [i for i, (r, _, _) in enumerate(checked) if isinstance(r, Rejected) and r.reason in KEY_REASONS]
        if not doubtful:
            return checked
        assert self.keys_caught_up is not None
        await self.keys_caught_up(fetched_at)
        again = list(checked)
        for i in doubtful:
            raw, where, t = messages[i]
            again[i] = (self.verifier.verify(raw, received_at=t), raw, where)
        return again

    async def _apply(self, s: AsyncSession, batch: _Batch, accepted: Accepted, where: Delivery,
                     voids: list[tuple[str, str, str]]) -> Outcome:
        event = accepted.event
        eid = str(event.event_id)
        first = batch.seen.get(eid)
        if first is not None:
            return await self._duplicate(s, accepted, where, first)
        batch.seen[eid] = where
        batch.consumed.append((event, accepted.raw, where))
        self.store.remember(accepted.raw, event)
        stream = batch.streams[event.stream_id]
        stream.touched = True
        # Our own event back from the log is no longer pending: it now folds in log order.
        stream.pending = [p for p in stream.pending if p.event_id != event.event_id]
        result = evolve(stream.logged, event)
        void = result if isinstance(result, Void) else None
        stream.ids.append(event.event_id)
        if void is None:
            stream.logged = result  # type: ignore[assignment]
        else:
            stream.voids.append(void)
        state = stream.state()
        # What the reaction appends is ours and not yet on the log: pending, folded after it.
        stream.pending.extend(await self.react(s, event, state, void is None))
        if void is not None:
            voids.append((eid, event.type, void.reason))
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
