"""The outbox's publishing loop: a batch with room to spare is not read again for nothing, and a
commit that lands while the outbox reads is published at once, not at the next idle poll."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from uuid import uuid4

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker

from services.kit import tables
from services.kit.db import Database
from services.kit.outbox import Outbox, StoreEvents
from services.kit.store import Decision, EventStore
from tests.component.harness import sqlite_db
from tests.factories import T0, issued

TOPIC = "rx.events"
IDLE_POLL_S = 30.0  # far beyond every wait below: what is published sooner was woken, not polled


class CountedReads(StoreEvents):
    """The services' own source, counting its reads; `during_next_read` runs inside the next one."""

    def __init__(self) -> None:
        super().__init__(TOPIC)
        self.reads = 0
        self.during_next_read: Callable[[], Awaitable[None]] | None = None

    async def pending(self, session: Any, limit: int) -> Any:
        self.reads += 1
        found = await super().pending(session, limit)
        if self.during_next_read is not None:
            act, self.during_next_read = self.during_next_read, None
            await act()  # a commit the read cannot see: it began before
        return found


@contextlib.asynccontextmanager
async def running_outbox(db: Database, source: CountedReads) -> AsyncIterator[Outbox]:
    broker = KafkaBroker("localhost:9092")
    async with TestKafkaBroker(broker):
        outbox = Outbox(db, broker, source, batch=500)
        loop = asyncio.create_task(outbox.run(idle_poll_s=IDLE_POLL_S))
        try:
            yield outbox
        finally:
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loop


async def _issue(db: Database, doctor: Any) -> None:
    pid = uuid4()
    async with db.write() as s:
        await EventStore("prescriber").append(s, str(pid), 0, [Decision(issued(doctor, pid), doctor, uuid4())], T0)


async def _until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.01)


@pytest.fixture
def doctor(identities):
    return identities.signer("dr-wang")


async def test_a_batch_with_room_to_spare_is_read_once(tmp_path, doctor):
    async with sqlite_db(tmp_path / "outbox.db", tables.metadata) as db:
        source = CountedReads()
        async with running_outbox(db, source) as outbox:
            await _until(lambda: source.reads == 1)  # the first read finds nothing, then waits
            for _ in range(3):
                await _issue(db, doctor)
            outbox.wake()
            await _until(lambda: outbox.published == 3)
            await asyncio.sleep(0.3)
            # 3 of a batch of 500, nothing committed since: no read again to find nothing.
            assert source.reads == 2


async def test_a_commit_during_an_empty_read_is_published_without_waiting_for_the_poll(tmp_path, doctor):
    async with sqlite_db(tmp_path / "outbox.db", tables.metadata) as db:
        source = CountedReads()
        async with running_outbox(db, source) as outbox:
            await _until(lambda: source.reads == 1)

            async def commit_unseen() -> None:
                await _issue(db, doctor)
                outbox.wake()

            source.during_next_read = commit_unseen
            outbox.wake()  # a read that comes back empty, while the commit lands
            await _until(lambda: outbox.published == 1)  # the poll would take IDLE_POLL_S
            assert source.reads == 3
