"""Our event store next to the `eventsourcing` library's SQLite recorder on the same work,
measured in the same run as the pipeline (benchmarks/baselines.py has the other baselines)."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from unittest import mock
from uuid import uuid4

from benchmarks.baselines import rate
from events.envelope import Envelope
from events.identities import Identities
from events.seal import seal
from services.kit import store as store_module
from services.kit import tables
from services.kit.db import Database
from services.kit.store import Decision, EventStore

ROUNDS = 4  # turns each store takes, alternating which goes first

async def event_stores(ids: Identities, journeys: list[list[Envelope[Any]]], writers: int = 16) -> dict[str, Any]:
    """Append the same streams (same events, same sizes) to our store and to eventsourcing's
    SQLiteApplicationRecorder: one event per transaction, first by one writer, then by
    `writers` concurrent writers; then load every stream back. Our append signs each event
    (Ed25519 + canonical JSON) and reserves its producer_seq; theirs stores ready-made bytes. A third
    pass runs our append on the bytes sealed beforehand: our store without the signing."""
    from eventsourcing.persistence import StoredEvent
    from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore

    workdir = Path(tempfile.mkdtemp(prefix="rxflow-bench-store-"))
    half = len(journeys) // 2
    out: dict[str, Any] = {"streams": len(journeys), "events": sum(map(len, journeys)), "writers": writers,
                           "synchronous": "FULL (2) on both", "journal_mode": "WAL on both"}
    db = Database(f"sqlite+aiosqlite:///{workdir / 'ours.db'}")
    await db.create_all(tables.metadata)
    store = EventStore("bench")
    datastore = SQLiteDatastore(str(workdir / "theirs.db"), pool_size=writers + 1)
    recorder = SQLiteApplicationRecorder(datastore)
    recorder.create_table()
    with datastore.transaction(commit=False) as c:
        c.execute("PRAGMA synchronous")
        theirs_sync = c.fetchone()[0]
    out["synchronous"] = f"ours FULL (2), theirs {theirs_sync}"
    stream_ids: dict[int, str] = {}
    # Theirs stores ready-made bytes: the same events sealed once beforehand, untimed.
    sealed = {(j, v): seal(e.payload, stream_id=str(uuid4()), stream_version=v + 1, producer="bench",
                           signer=ids.signers[e.actor], producer_seq=v + 1, occurred_at=e.occurred_at)
              for j, journey in enumerate(journeys) for v, e in enumerate(journey)}
    presealed_of: dict[str, int] = {}  # stream id -> journey, for the pass that does not sign

    async def ours(j: int) -> None:
        sid = stream_ids.setdefault(j, str(uuid4()))
        for v, event in enumerate(journeys[j]):
            decision = Decision(event.payload, ids.signers[event.actor], uuid4())
            async with db.write() as s:
                await store.append(s, sid, v, [decision], event.occurred_at)

    async def ours_sealed(j: int) -> None:
        # Our append with its sealing replaced by bytes sealed earlier (theirs' work): what the
        # rest of our append costs, so the table shows what signing adds.
        sid = str(uuid4())
        presealed_of[sid] = j
        for v, event in enumerate(journeys[j]):
            async with db.write() as s:
                await store.append(s, sid, v, [Decision(event.payload, ids.signers[event.actor], uuid4())],
                                   event.occurred_at)

    def theirs(j: int) -> None:
        sid = uuid4()
        for v in range(len(journeys[j])):
            recorder.insert_events([StoredEvent(sid, v + 1, journeys[j][v].type, sealed[(j, v)])])

    async def timed_ours(append: Callable[[int], Awaitable[None]], js: list[int], concurrent: bool) -> float:
        began = time.perf_counter()
        if concurrent:
            queue = list(js)

            async def worker() -> None:
                while queue:
                    await append(queue.pop())
            await asyncio.gather(*(worker() for _ in range(writers)))
        else:
            for j in js:
                await append(j)
        return time.perf_counter() - began

    def timed_theirs(js: list[int], concurrent: bool) -> float:
        began = time.perf_counter()
        if concurrent:
            with ThreadPoolExecutor(writers) as pool:
                list(pool.map(theirs, js))
        else:
            for j in js:
                theirs(j)
        return time.perf_counter() - began

    def presealed(payload: Any, *, stream_id: str, stream_version: int, **_: Any) -> bytes:
        return sealed[(presealed_of[stream_id], stream_version - 1)]

    # Both stores share one disk, whose fsync time drifts during a run (0.2 to 0.4 ms here):
    # they take turns in rounds, each going first in half of them, so a drift hits both alike.
    modes = (("one_writer", range(half), False), (f"{writers}_writers", range(half, len(journeys)), True))
    for mode, js, concurrent in modes:
        n = sum(len(journeys[j]) for j in js)
        ours_s = theirs_s = sealed_s = 0.0
        for r in range(ROUNDS):
            chunk = list(js)[r::ROUNDS]
            if r % 2:
                theirs_s += await asyncio.to_thread(timed_theirs, chunk, concurrent)
            ours_s += await timed_ours(ours, chunk, concurrent)
            if not r % 2:
                theirs_s += await asyncio.to_thread(timed_theirs, chunk, concurrent)
            with mock.patch.object(store_module, "seal", presealed):
                sealed_s += await timed_ours(ours_sealed, chunk, concurrent)
        out[f"append_{mode}"] = {
            "events": n, "ours_events_per_s": rate(n, ours_s), "eventsourcing_events_per_s": rate(n, theirs_s),
            "ratio_ours_over_theirs": round(theirs_s / ours_s, 2) if ours_s else None,
            "ours_sealed_beforehand_events_per_s": rate(n, sealed_s),
            "ratio_ours_sealed_beforehand_over_theirs": round(theirs_s / sealed_s, 2) if sealed_s else None,
        }
    # Load every stream back, one stream per read: ours parsed into envelopes (what a command
    # folds), ours as raw rows (the store's row read, under both), theirs as StoredEvent rows.
    store_cold = EventStore("bench", parse_cache_size=0)
    total = sum(map(len, journeys))
    began = time.perf_counter()
    for sid in stream_ids.values():
        async with db.read() as s:
            await store_cold.load(s, sid)
    ours_parsed = time.perf_counter() - began
    began = time.perf_counter()
    for sid in stream_ids.values():
        async with db.read() as s:
            list(await store_module.stream_rows(s, tables.events, [sid]))  # the store's own row read
    ours_rows = time.perf_counter() - began
    their_ids = []
    with datastore.transaction(commit=False) as c:
        c.execute("SELECT DISTINCT originator_id FROM stored_events")
        their_ids = [r[0] for r in c.fetchall()]
    began = time.perf_counter()
    for oid in their_ids:
        recorder.select_events(oid)
    theirs_rows = time.perf_counter() - began
    out["load"] = {
        "ours_parsed_events_per_s": rate(total, ours_parsed),
        "ours_rows_events_per_s": rate(total, ours_rows),
        "eventsourcing_rows_events_per_s": rate(total, theirs_rows),
        "ratio_ours_rows_over_theirs": round(theirs_rows / ours_rows, 2) if ours_rows else None,
        "ratio_ours_parsed_over_theirs_rows": round(theirs_rows / ours_parsed, 2) if ours_parsed else None,
    }
    await db.close()
    datastore.close()
    for f in workdir.iterdir():
        f.unlink()
    workdir.rmdir()
    return out
