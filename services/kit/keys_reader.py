"""The keys topic, read whole at every start and then followed, with no consumer group.

A service's keyring is a fold of every key event on the log, as a regulator's is. Resuming a
consumer group from its committed offset (as this service did before) skipped every key event
read before a restart: a key registered or revoked on the log alone was forgotten by the
restarted service, which then refused the key's events as unknown, or accepted events signed
after its revocation. Reading from the beginning needs no offsets, so there is nothing to
commit and no group to keep alive: on the embedded broker every heartbeat and every offset
commit is an object written to S3 (about 5 ms of the broker's CPU each; see README).

The topic is read to its end before the service consumes any prescription event, so a
restarted service judges its first events with every key event already applied. Afterwards the
two topics are read apart, so an event signed with a key registered moments before it can come
before the key does: `caught_up` reads the keys topic to its end before such an event is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from services.kit.offsets import OffsetWatch, take_records
from services.kit.store import Delivery

log = logging.getLogger(__name__)

Apply = Callable[[bytes, Delivery], Awaitable[Any]]


class KeysReader:
    """Applies every record of the keys topic, from offset 0, through `apply`."""

    def __init__(self, bootstrap: str, topic: str, apply: Apply, fetch_wait_ms: int = 1000) -> None:
        self.bootstrap, self.topic, self.apply = bootstrap, topic, apply
        # Key events are rare: a long wait keeps an idle fetch from asking the broker often.
        self.fetch_wait_ms = fetch_wait_ms
        self.offsets = OffsetWatch()
        self.applied = 0
        self.done: dict[int, int] = {}  # partition -> the next offset to apply
        self._progress = asyncio.Condition()
        self._caught_up_from: float | None = None  # when the last catch-up that ended had begun
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, timeout_s: float = 60.0) -> None:
        """Read the topic to the end it has now, then follow it in the background."""
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False,
                                    auto_offset_reset="earliest", fetch_max_wait_ms=self.fetch_wait_ms)
        await consumer.start()
        self._consumer = consumer
        try:
            parts = await self._partitions(consumer)
            consumer.assign(parts)
            await consumer.seek_to_beginning(*parts)
            ends = await consumer.end_offsets(parts)
            async with asyncio.timeout(timeout_s):
                while [p for p in parts if await consumer.position(p) < ends[p]]:
                    await self._take(consumer, timeout_ms=200)
        except BaseException:
            await self.stop()
            raise
        self._task = asyncio.create_task(self._follow(consumer), name="keys")

    async def caught_up(self, since: float, timeout_s: float = 10.0) -> None:
        """Return once every key event on the log at some moment after `since` (the event loop's
        clock) is applied: a record fetched before `since` then finds any key registered before it.

        A caught-up reader costs one ListOffsets request; TimeoutError if the reader cannot get
        there (broker away), so that the caller leaves its batch unacknowledged."""
        loop = asyncio.get_running_loop()
        if self._caught_up_from is not None and self._caught_up_from >= since:
            return
        began, consumer = loop.time(), self._consumer
        if consumer is None:
            raise RuntimeError("the keys reader is not running")
        ends = await consumer.end_offsets(list(consumer.assignment()))  # assigned in start()
        async with asyncio.timeout(timeout_s), self._progress:
            await self._progress.wait_for(lambda: all(self.done.get(p.partition, 0) >= end for p, end in ends.items()))
        self._caught_up_from = max(began, self._caught_up_from or began)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await consumer.stop()

    async def _partitions(self, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        found = consumer.partitions_for_topic(self.topic)
        if not found:
            await consumer._client.force_metadata_update()  # aiokafka has no public call for this
            found = consumer.partitions_for_topic(self.topic)
        if not found:
            raise RuntimeError(f"topic {self.topic} does not exist")
        return [TopicPartition(self.topic, p) for p in sorted(found)]

    async def _follow(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            try:
                await self._take(consumer, timeout_ms=self.fetch_wait_ms)
            except asyncio.CancelledError:
                raise
            except Exception:  # the broker is away: aiokafka reconnects; keep reading
                log.exception("reading %s failed; trying again", self.topic)
                await asyncio.sleep(1.0)

    async def _take(self, consumer: AIOKafkaConsumer, timeout_ms: int) -> None:
        records = [r for batch in (await consumer.getmany(timeout_ms=timeout_ms)).values() for r in batch]
        # A skipped key event would be a key forgotten: holes are read again, as events' are.
        taken = take_records(self.offsets, records, consumer, "keys")
        now = datetime.now(UTC)
        for r in taken.records:
            # A record without a value is no event: b"" is refused as not JSON (and recorded).
            await self.apply(r.value or b"", Delivery(r.topic, r.partition, r.offset, now))
            self.applied += 1
            self.done[r.partition] = r.offset + 1
        # A hole given up on is passed over, so `done` runs on from the next record taken.
        async with self._progress:
            self._progress.notify_all()
