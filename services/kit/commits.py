"""Kafka offset commits for records already kept in SQL, at most one per interval per consumer.

A consumer here commits its offset only after the transaction that recorded the records has
committed, and dedupes by event_id, so the committed offset only bounds what a restart reads
again: a commit that comes a second later loses nothing. It costs the broker, though: on the
embedded broker every OffsetCommit writes two S3 objects (the offsets and the group's state),
and committing after every consumed batch made them 65 % of SeaweedFS's writes in `make bench`.
Kafka's own auto-commit works the same way (auto.commit.interval.ms, 5 s by default), but
commits what was fetched; this commits only what was processed.

The commit runs in the background, so the consume loop never waits for the broker's answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from aiokafka import TopicPartition

log = logging.getLogger(__name__)


class OffsetCommits:
    """The next offset to read per partition, of records processed, committed every interval_s."""

    def __init__(self, name: str, interval_s: float) -> None:
        self.name, self.interval_s = name, interval_s
        self.commits = 0  # OffsetCommit requests sent
        self._processed: dict[TopicPartition, int] = {}
        self._committed: dict[TopicPartition, int] = {}
        self._consumer: Any = None
        self._last = float("-inf")  # loop time of the last commit
        self._pending: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()  # commits go out one at a time, so offsets never go back
        self._closed = False

    async def keep(self, msg: Any, keep: Callable[[], Awaitable[Sequence[Any]]]) -> None:
        """Run keep() on a faststream batch message: commit past the records it returns (kept in
        SQL), or, if it raises, rewind every partition to the batch's first record to read it again."""
        try:
            records = await keep()
        except BaseException:
            await msg.nack()
            raise
        self.processed(msg.consumer, records)

    def processed(self, consumer: Any, records: Iterable[Any]) -> None:
        """Records kept in SQL (their transaction committed): commit past them within interval_s."""
        if not hasattr(consumer, "assignment"):
            return  # faststream's in-memory test broker: its consumer has no group to commit to
        self._consumer = consumer
        for r in records:
            tp = TopicPartition(r.topic, r.partition)
            # max: a rewound batch (after a failure) brings lower offsets again.
            self._processed[tp] = max(self._processed.get(tp, 0), r.offset + 1)
        self._schedule()

    async def flush(self) -> None:
        """Commit what was processed now and no more after (on stop, before the consumer leaves
        its group): a batch that ends later is read again after the restart, deduped."""
        self._closed = True
        if self._pending is not None:
            self._pending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pending
            self._pending = None
        await self._commit()

    def _schedule(self) -> None:
        """Start the next commit if something waits for one and none is on its way."""
        if self._pending is None and not self._closed and self._due():
            self._pending = asyncio.create_task(self._commit_when_due(), name=f"offset commits ({self.name})")

    def _due(self) -> dict[TopicPartition, int]:
        return {tp: o for tp, o in self._processed.items() if self._committed.get(tp, -1) < o}

    async def _commit_when_due(self) -> None:
        try:
            wait = self._last + self.interval_s - asyncio.get_running_loop().time()
            if wait > 0:
                await asyncio.sleep(wait)
            await self._commit()
        finally:
            self._pending = None
        self._schedule()  # records processed while this commit was on its way wait for the next one

    async def _commit(self) -> None:
        async with self._lock:
            consumer = self._consumer
            # Only partitions this consumer still owns: after a rebalance another member reads the
            # rest, and an uncommitted record is only read again (deduped by event_id).
            owned = consumer.assignment() if consumer is not None else set()
            for tp in [tp for tp in self._processed if tp not in owned]:
                del self._processed[tp]
            offsets = self._due()
            self._last = asyncio.get_running_loop().time()
            if not offsets:
                return
            try:
                await consumer.commit(offsets)
            except Exception as exc:  # the next commit carries these offsets too
                log.warning("%s: offset commit failed (%s); retrying with the next one", self.name, exc)
                return
            self.commits += 1
            self._committed.update(offsets)
