"""The running audit service: reads every partition of the log, seals batches into the ledger, signs checkpoints.

A message is kept (durably, as pending) before its offset is committed, so a crash loses
nothing; a batch is sealed in ledger order with its checkpoint in one transaction, and the
checkpoint leaves through the outbox to rx.checkpoints.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from sqlalchemy import MetaData, insert

from events.identities import load_root_public_key
from services.audit import state, store
from services.audit.config import AuditSettings
from services.audit.ledger import Ledger
from services.kit import tables
from services.kit.commits import OffsetCommits
from services.kit.consumer import kafka_time
from services.kit.db import Database
from services.kit.keystore import load_keystore
from services.kit.offsets import OffsetWatch, take_contiguous
from services.kit.outbox import Outbox, OutboxRows
from services.kit.running import Running

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Spec:
    name: str
    metadata: MetaData


def utc_now() -> datetime:
    return datetime.now(UTC)


class AuditService(Running):
    """The ledger of every message on rx.keys and rx.events, and its signed checkpoints."""

    def __init__(self, settings: AuditSettings, clock: Callable[[], datetime] = utc_now) -> None:
        self.settings, self.clock = settings, clock
        self.spec = Spec("audit", store.metadata)
        self.db = Database(settings.database_url)
        keystore = load_keystore(settings.keys_dir, set(), settings.auditor)
        if settings.auditor not in keystore.signers:
            raise RuntimeError(f"no key for {settings.auditor} in {settings.keys_dir}: regenerate the identities")
        self.signer = keystore.signer(settings.auditor)
        self.ledger: Ledger | None = None
        self.broker = KafkaBroker(settings.bootstrap, enable_idempotence=False, acks="all", client_id="rxflow-audit")
        self.outbox = Outbox(self.db, self.broker, OutboxRows(), settings.outbox_batch)
        self._lock, self._wake = asyncio.Lock(), asyncio.Event()
        self._arrived = 0
        self.offsets = OffsetWatch()
        self.commits = OffsetCommits("audit", settings.commit_interval_ms / 1000)
        self._tasks: list[asyncio.Task[None]] = []
        self._subscribe()
        from services.audit.handlers import build_http
        self.http = build_http(self)

    def _subscribe(self) -> None:
        s = self.settings
        # Offsets are committed only once the records are kept in SQL (within commit_interval_ms:
        # kit/commits.py); an exception rewinds to the batch's first record, read again.
        @self.broker.subscriber(s.keys_topic, s.events_topic, group_id="audit", batch=True, max_records=500,
                                ack_policy=AckPolicy.MANUAL, auto_offset_reset="earliest",
                                session_timeout_ms=s.session_timeout_ms, heartbeat_interval_ms=s.heartbeat_interval_ms,
                                title="on_log_messages (audit)")
        async def on_log_messages(msg: KafkaMessage) -> None:
            async def keep() -> list[Any]:
                taken = take_contiguous(self.offsets, msg, "audit")
                if taken.records:
                    await self.keep(taken.records)
                return taken.records

            await self.commits.keep(msg, keep)

    async def keep(self, records: Any) -> None:
        """Store messages read from the log until the next batch; every message counts, even junk."""
        rows = [dict(topic=r.topic, partition=r.partition, offset=r.offset, log_time=kafka_time(r),
                     raw=r.value or b"") for r in records]
        async with self.db.write() as s:
            await store.add_pending(s, rows)
        self._arrived += len(rows)
        if self._arrived >= self.settings.checkpoint_every:
            self._wake.set()

    async def loaded(self) -> Ledger:
        """The ledger's state, rebuilt from SQL on first use (and after a failed batch)."""
        if self.ledger is None:
            skew = timedelta(seconds=self.settings.max_clock_skew_s) if self.settings.max_clock_skew_s else None
            # The root public key alone: every other key is learned from the log, as a regulator does.
            ledger = Ledger(load_root_public_key(self.settings.keys_dir), max_clock_skew=skew,
                            keys_topic=self.settings.keys_topic)
            self.ledger = await state.load(self.db, ledger)
        return self.ledger

    async def seal(self) -> int:
        """Seal the waiting messages (at most checkpoint_every) into the ledger; returns how many."""
        async with self._lock:
            ledger = await self.loaded()
            try:
                async with self.db.write() as s:
                    taken, records = await store.take_pending(s, self.settings.checkpoint_every)
                    known = ledger.next_offsets
                    fresh = [r for r in records if r.offset >= known.get((r.topic, r.partition), 0)]
                    appended = ledger.append_batch(fresh)
                    checkpoint = self._checkpoint(ledger) if appended else None
                    if checkpoint:
                        raw = checkpoint[-1]
                        await s.execute(insert(tables.outbox).values(
                            event_id=json.loads(raw)["event_id"], topic=self.settings.checkpoints_topic,
                            key="ledger", raw=raw, published=False))
                    await store.seal(s, taken, appended, checkpoint)
            except BaseException:
                self.ledger = None  # what is in memory may be ahead of what was committed
                raise
            self._arrived = max(0, self._arrived - len(taken))
        if appended:
            self.outbox.wake()
            gaps = ledger.gaps.open_gaps()
            if gaps:
                log.warning("producer_seq gaps after entry %d: %s", ledger.size - 1,
                            {p: n[:10] for p, n in gaps.items()})
        return len(appended)

    def _checkpoint(self, ledger: Ledger) -> tuple[int, int, str, datetime, bytes]:
        now = self.clock()
        raw = ledger.checkpoint(self.signer, now)
        return ledger.checkpoints, ledger.size, ledger.tree.root().hex(), now, raw

    async def run_sealer(self) -> None:
        """Checkpoint every checkpoint_every entries or checkpoint_interval_s seconds, forever."""
        while True:
            try:
                if await self.seal() >= self.settings.checkpoint_every:
                    continue  # more are waiting
            except asyncio.CancelledError:
                raise
            except Exception:  # database down: keep the pending rows, try again
                log.exception("sealing a batch failed; retrying")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.checkpoint_interval_s)

    async def start(self) -> None:
        await self.db.create_all(tables.metadata, store.metadata)
        await self.loaded()
        await self.broker.start()
        self._tasks += [asyncio.create_task(self.outbox.run(), name="outbox"),
                        asyncio.create_task(self.run_sealer(), name="sealer")]
