"""A running service: database, event store, keys, broker, consumer, outbox and HTTP app."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4, uuid5

from fastapi import APIRouter, FastAPI
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncSession

from events.authority import Role
from events.envelope import Envelope
from events.fastverify import FastVerifier
from events.lifecycle import Prescription, fold_on
from services.kit import tables
from services.kit.commits import OffsetCommits
from services.kit.consumer import Consumer, kafka_time
from services.kit.db import Database
from services.kit.fold_cache import FoldCache
from services.kit.http import NotFound, Refused, service_app
from services.kit.keys_reader import KeysReader
from services.kit.keystore import load_keystore
from services.kit.news import StreamNews
from services.kit.offsets import OffsetWatch, take_contiguous
from services.kit.outbox import Outbox, StoreEvents
from services.kit.running import Running
from services.kit.settings import ServiceSettings
from services.kit.store import Decision, Delivery, EventStore, VersionConflict

log = logging.getLogger(__name__)

Project = Callable[[AsyncSession, Prescription], Awaitable[None]]
Decide = Callable[[Prescription], Sequence[Decision]]
# What a decision needs beyond its stream, read in the deciding transaction (so that no other
# write lands between the read and the append): decide is then called with (state, facts).
ReadFacts = Callable[[AsyncSession, Prescription], Awaitable[Any]]
DecideWithFacts = Callable[[Prescription, Any], Sequence[Decision]]


@dataclass
class ServiceSpec:
    """What makes one service different from another; everything else is shared."""

    name: str  # the producer name in the authority table
    title: str
    roles: frozenset[Role]
    service_actor: str | None
    metadata: MetaData  # read-model tables
    project: Project  # write the read model of one prescription
    react: Callable[[Service, Envelope[Any], Prescription], Sequence[Decision]] | None = None
    routers: Sequence[APIRouter] = ()
    background: Sequence[Callable[[Service], Awaitable[None]]] = ()
    static_dir: str | None = None


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Service(Running):
    spec: ServiceSpec
    settings: ServiceSettings
    clock: Callable[[], datetime] = utc_now
    new_id: Callable[[], UUID] = uuid4
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        s = self.settings
        if s.clock_offset_s and self.clock is utc_now:
            offset = timedelta(seconds=s.clock_offset_s)
            self.clock = lambda: utc_now() + offset
        self.db = Database(s.database_url)
        self.store = EventStore(self.spec.name)
        self.keystore = load_keystore(s.keys_dir, set(self.spec.roles), self.spec.service_actor)
        skew = timedelta(seconds=s.max_clock_skew_s) if s.max_clock_skew_s else None
        self.verifier = FastVerifier(self.keystore.keyring, max_clock_skew=skew, authentic=self.store.authentic)
        self.broker = KafkaBroker(s.bootstrap, enable_idempotence=False, acks="all",
                                  client_id=f"rxflow-{self.spec.name}", max_batch_size=s.producer_batch_bytes)
        self.outbox = Outbox(self.db, self.broker, StoreEvents(s.events_topic), s.outbox_batch,
                             s.publish_linger_ms / 1000)
        self.news = StreamNews()  # commands waiting for the consumer to bring their stream forward
        self.offsets = OffsetWatch()
        self.commits = OffsetCommits(self.spec.name, s.commit_interval_ms / 1000)
        self.folds = FoldCache()  # the consumer and the commands fold the same streams
        self.keys = KeysReader(s.bootstrap, s.keys_topic, self._apply_key_event)
        self.consumer = Consumer(self.db, self.store, self.verifier, self._react, self.spec.project,
                                 self._consumed, self.folds, self.keys.caught_up)
        self._subscribe()
        self.http = self._build_http()

    def _subscribe(self) -> None:
        s = self.settings
        opts = dict(auto_offset_reset="earliest", session_timeout_ms=s.session_timeout_ms,
                    heartbeat_interval_ms=s.heartbeat_interval_ms, fetch_max_wait_ms=s.fetch_wait_ms)

        # A batch of records is verified, then applied in one transaction (one fsync). Its offsets
        # are committed only after that transaction, within commit_interval_ms (kit/commits.py
        # says why not at once); an exception (database down) rewinds every partition to the
        # batch's first record and the records come again: nothing is lost.
        @self.broker.subscriber(s.events_topic, group_id=self.spec.name, ack_policy=AckPolicy.MANUAL,
                                title=f"on_prescription_event ({self.spec.name})", batch=True,
                                max_records=s.consume_batch, batch_timeout_ms=s.consume_wait_ms, **opts)
        async def on_prescription_event(msg: KafkaMessage) -> None:
            began, now = asyncio.get_running_loop().time(), utc_now()

            async def keep() -> list[Any]:
                taken = take_contiguous(self.offsets, msg, self.spec.name)
                if taken.records:
                    # A record without a value (a tombstone) is no event: b"" is rejected as not JSON.
                    await self.consumer.handle_batch([(r.value or b"", Delivery(r.topic, r.partition, r.offset, now),
                                                       kafka_time(r)) for r in taken.records], fetched_at=began)
                return taken.records

            await self.commits.keep(msg, keep)
            # The next batch starts consume_interval_ms after this one began at the earliest
            # (settings say why).
            wait = began + s.consume_interval_ms / 1000 - asyncio.get_running_loop().time()
            if wait > 0:
                await asyncio.sleep(wait)

    async def _apply_key_event(self, raw: bytes, where: Delivery) -> None:
        # Consumer.handle passes no fetched_at: a key event refused for a key reason must not wait
        # for the keys reader, which is the caller.
        await self.consumer.handle(raw, where)

    def reaction_id(self, event: Envelope[Any], n: int = 0) -> UUID:
        """The id of the n-th thing decided in reaction to an event: the same on every replay of it,
        so a service rebuilding its store from the log re-derives ids that are already on the log."""
        return uuid5(event.event_id, f"{self.spec.name}:{n}")

    async def _react(self, session: AsyncSession, event: Envelope[Any], state: Prescription,
                     applied: bool) -> list[Envelope[Any]]:
        # A void event (stale, or illegal in its state) must not trigger anything.
        if self.spec.react is None or not applied:
            return []
        decisions = self.spec.react(self, event, state)
        if not decisions:
            return []
        sealed = await self.store.append(session, state.prescription_id, state.version, decisions, self.clock())
        return [self.store.parse(raw) for raw in sealed]

    async def execute(self, stream_id: str, decide: Decide | DecideWithFacts, attempts: int = 3,
                      read_facts: ReadFacts | None = None, at: datetime | None = None) -> Prescription:
        """Load and fold a stream, decide, append and project in one transaction.

        at: the time the decision was taken at, when it depends on one (validity, lockouts): the
        events then carry that time, so no reader finds them on the other side of a deadline."""
        for _ in range(attempts):
            try:
                async with self.db.write() as s:
                    history = await self.store.load(s, stream_id)
                    if not history:
                        raise NotFound(f"prescription {stream_id}")
                    state, _ = self.folds.fold(stream_id, history)
                    decisions = decide(state) if read_facts is None else decide(state, await read_facts(s, state))
                    sealed = await self.store.append(s, stream_id, state.version, decisions, at or self.clock())
                    state = self._fold_on(state, sealed)
                    await self.spec.project(s, state)
                self.outbox.wake()
                return state
            except VersionConflict:
                continue  # another writer won this version: reload and decide again
        raise Refused("conflict", "the prescription changed concurrently; try again")

    async def start_stream(self, stream_id: str, decisions: Sequence[Decision],
                           at: datetime | None = None) -> Prescription:
        """Append the first events of a new stream (a new prescription), at `at` as execute does."""
        async with self.db.write() as s:
            sealed = await self.store.append(s, stream_id, 0, decisions, at or self.clock())
            state = self._fold_on(Prescription(stream_id), sealed)
            await self.spec.project(s, state)
        self.outbox.wake()
        return state

    def _fold_on(self, state: Prescription, sealed: list[bytes]) -> Prescription:
        """The state after events just appended: the same as loading and folding the stream
        again (appended events fold last), without reading and parsing it all once more."""
        return fold_on(state, (self.store.parse(raw) for raw in sealed))[0]

    async def state(self, stream_id: str) -> Prescription:
        """The current folded state of a prescription, or 404."""
        async with self.db.read() as s:
            history = await self.store.load(s, stream_id)
        if not history:
            raise NotFound(f"prescription {stream_id}")
        return self.folds.fold(stream_id, history)[0]

    async def wait_confirmed(self, stream_id: str, timeout_s: float = 5.0) -> bool:
        """Wait until this service's events on the stream have come back from the log: the
        database is read once, then the consumer's commits say which events came back (reading
        again at every commit on the stream was a tenth of the pharmacy's CPU)."""
        with self.news.watch(stream_id) as consumed:
            async with self.db.read() as s:
                pending = await self.store.pending(s, stream_id)
            return await consumed.all_of(pending, timeout_s)

    def _consumed(self, events: Sequence[Envelope[Any]]) -> None:
        """After a consumer transaction committed: publish what it decided, wake who waited."""
        self.outbox.wake()
        self.news.arrived((e.stream_id, str(e.event_id)) for e in events)

    async def start(self) -> None:
        """Create tables, connect to the broker, start the outbox and background loops."""
        await self.db.create_all(tables.metadata, self.spec.metadata)
        await self.keys.start()  # every key event applied before the first prescription event
        await self.broker.start()
        self._tasks.append(asyncio.create_task(self.outbox.run(), name="outbox"))
        for loop in self.spec.background:
            self._tasks.append(asyncio.create_task(loop(self), name=getattr(loop, "__name__", "loop")))

    async def stop(self) -> None:
        await self.keys.stop()
        await super().stop()

    def _build_http(self) -> FastAPI:
        async def health() -> dict[str, Any]:
            # writes/commits: how many transactions SQLite group commit folded into each fsync.
            return {"service": self.spec.name, "outbox_published": self.outbox.published,
                    "db_writes": self.db.writes, "db_commits": self.db.commits,
                    "offset_commits": self.commits.commits,
                    "offset_holes": [h.describe() for h in self.offsets.holes],
                    "key_events_read": self.keys.applied}

        app = service_app(self.spec.title, self, self.spec.routers, health)
        if self.spec.static_dir:
            from fastapi.staticfiles import StaticFiles
            app.mount("/static", StaticFiles(directory=self.spec.static_dir), name="static")
        return app
