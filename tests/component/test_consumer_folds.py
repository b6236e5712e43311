"""A consumer batch leaves its folds behind: the next batch does not fold the stream again."""

from datetime import UTC, datetime, timedelta

from events.authority import AUTHORITY
from events.lifecycle import fold
from events.seal import seal
from events.verifier import Verifier, read_verified
from services.audit.synth import T0, journey
from services.kit import tables
from services.kit.consumer import Consumer
from services.kit.db import Database
from services.kit.store import Delivery, EventStore


async def test_the_next_batch_starts_from_the_last_batchs_fold(tmp_path, identities):
    steps = journey(7, T0)
    raws = [seal(s.payload, stream_id=str(s.payload.prescription_id), stream_version=v,
                 producer=AUTHORITY[s.payload.TYPE].producer, signer=identities.signer(s.actor), producer_seq=v,
                 occurred_at=T0 + timedelta(minutes=v)) for v, s in enumerate(steps, 1)]
    stale = seal(steps[1].payload, stream_id=str(steps[0].payload.prescription_id), stream_version=2,
                 producer="review", signer=identities.signer(steps[1].actor), producer_seq=99,
                 occurred_at=T0 + timedelta(minutes=30))
    raws.insert(3, stale)  # a void event in the first batch: its fold must carry it
    projected = []

    async def react(*_):
        return []

    async def project(_session, state):
        projected.append(state)

    db = Database(f"sqlite+aiosqlite:///{tmp_path}/c.db")
    await db.create_all(tables.metadata)
    consumer = Consumer(db, EventStore("pharmacy"), Verifier(identities.keyring(), max_clock_skew=None), react, project)
    now = datetime.now(UTC)
    messages = [(raw, Delivery("rx.events", 0, i, now), None) for i, raw in enumerate(raws)]
    first = await consumer.handle_batch(messages[:5])
    second = await consumer.handle_batch(messages[5:])
    await db.close()
    assert [o.status for o in first + second].count("void") == 1
    # The second batch loaded the first batch's events and folded none of them again.
    assert consumer.folds.events_folded == 0
    expected = fold(str(steps[0].payload.prescription_id), [read_verified(r) for r in raws])
    assert projected[-1] == expected[0]
    assert consumer.folds.fold(expected[0].prescription_id, [read_verified(r) for r in raws]) == expected
