"""The audit service on the in-memory broker: messages in, ledger and signed checkpoints out, proofs hold."""

from __future__ import annotations

import base64
import dataclasses
import json
import zlib
from collections import Counter

import pytest
from sqlalchemy import select

from events.identities import load_root_public_key
from events.schemas import AuditCheckpoint
from events.seal import seal
from events.signing import public_key_text
from events.verifier import Accepted, Verifier
from services.audit.app import build
from services.audit.config import AuditSettings
from services.audit.merkle import leaf_hash
from services.audit.offline import verify_data
from services.audit.owners import Options
from services.audit.proofs import verify_consistency, verify_inclusion
from services.audit.synth import T0, journey
from services.kit import tables
from tests.component.harness import run_service


@pytest.fixture
def kafka_offsets(monkeypatch):
    """The in-memory broker puts every record at offset 0; a real one counts per partition."""
    import faststream.kafka.testing as fake

    original, counters = fake.build_message, Counter()

    async def numbered(*args, **kwargs):
        record = await original(*args, **kwargs)
        if "key" not in kwargs:  # the reply built after a handler ran, not a record on the log
            return record
        key = (record.topic, record.partition)
        counters[key] += 1
        return dataclasses.replace(record, offset=counters[key] - 1)

    monkeypatch.setattr(fake, "build_message", numbered)


@pytest.fixture
async def audit(tmp_path, keys_dir, kafka_offsets):
    async with run_service(build, AuditSettings, tmp_path, keys_dir) as running:
        yield running


class Log:
    """Journeys sealed as the services would seal them, numbered per producer."""

    def __init__(self, identities) -> None:
        self.ids, self.seqs = identities, Counter()

    def journey(self, n: int, skip: str | None = None) -> list[bytes]:
        out, at = [], T0
        for version, step in enumerate(journey(n, T0), start=1):
            producer = {"svc-review": "review", "rph-zhao": "review", "rph-sun": "review"}.get(step.actor)
            producer = producer or ("prescriber" if step.actor.startswith("dr-") else
                                    "delivery" if step.actor.startswith(("courier", "svc-delivery")) else "pharmacy")
            self.seqs[producer] += 2 if producer == skip else 1  # skip: a number lost on the way
            at = at.replace(minute=(at.minute + 1) % 60)
            out.append(seal(step.payload, stream_id=str(step.payload.prescription_id), stream_version=version,
                            producer=producer, signer=self.ids.signer(step.actor), producer_seq=self.seqs[producer],
                            occurred_at=at))
        return out


async def publish(audit, raws: list[bytes], topic: str = "rx.events") -> None:
    for raw in raws:
        key = json.loads(raw)["stream_id"] if raw.startswith(b"{") else "junk"
        await audit.broker.publish(raw, topic=topic, key=key.encode(), partition=zlib.crc32(key.encode()) % 3)


async def test_events_are_ledgered_checkpointed_and_proven(audit, identities):
    svc, log = audit.service, Log(identities)
    await publish(audit, identities.key_events, topic="rx.keys")
    first = [raw for n in range(4) for raw in log.journey(n)]
    await publish(audit, first)
    assert await svc.seal() == len(identities.key_events) + len(first)
    await audit.flush()
    async with svc.db.read() as s:
        sent = (await s.execute(select(tables.outbox.c.topic, tables.outbox.c.published))).all()
    assert sent == [("rx.checkpoints", True)]

    latest = (await audit.client.get("/api/checkpoints/latest")).json()
    checkpoint = Verifier(identities.keyring()).verify(base64.b64decode(latest["message"]))
    assert isinstance(checkpoint, Accepted) and isinstance(checkpoint.event.payload, AuditCheckpoint)
    assert checkpoint.event.actor == "svc-audit" and checkpoint.event.payload.root_hash == latest["root_hash"]
    size1, root1 = latest["tree_size"], bytes.fromhex(latest["root_hash"])

    event_id = json.loads(first[3])["event_id"]
    proof = (await audit.client.get("/api/proofs/inclusion", params={"event_id": event_id})).json()
    assert json.loads(proof["entry"])["verdict"] == "accepted"
    leaf = leaf_hash(proof["entry"].encode())
    assert verify_inclusion(leaf, proof["seq"], size1, [bytes.fromhex(h) for h in proof["audit_path"]], root1)

    await publish(audit, log.journey(10))
    await svc.seal()
    size2 = (await audit.client.get("/api/checkpoints/latest")).json()["tree_size"]
    cons = (await audit.client.get("/api/proofs/consistency", params={"first": size1, "second": size2})).json()
    assert size2 > size1 and cons["first_root"] == root1.hex()
    assert verify_consistency(size1, size2, root1, bytes.fromhex(cons["second_root"]),
                              [bytes.fromhex(h) for h in cons["proof"]])
    assert len((await audit.client.get("/api/checkpoints")).json()) == 2


async def test_a_gap_is_reported_and_forged_messages_are_kept_with_their_reason(audit, identities):
    svc, log = audit.service, Log(identities)
    await publish(audit, identities.key_events, topic="rx.keys")
    honest = log.journey(1) + log.journey(2, skip="review")
    forged = json.loads(honest[0])
    forged["payload"]["items"][0]["quantity"] = "50"  # changed after the doctor signed
    await publish(audit, [*honest, json.dumps(forged).encode(), b"not json at all"])
    await svc.seal()

    gaps = (await audit.client.get("/api/gaps")).json()
    assert gaps["missing"] >= 1 and "review" in gaps["open_gaps"]
    rejected = (await audit.client.get("/api/rejections")).json()
    assert [r["reason"] for r in rejected] == ["bad_signature", "not_json"]
    assert base64.b64decode(rejected[1]["message"]) == b"not json at all"

    export = b"".join([chunk async for chunk in _export(audit)])
    options = Options("root-1", public_key_text(load_root_public_key(audit.service.settings.keys_dir)
                                                .get("root-1").public_key), max_clock_skew_s=None, allow_rejected=True)
    outcome = verify_data(export, options, workers=1)
    assert set(outcome.problems.counts) == {"sequence"}, outcome.problems.sorted()  # the lost number, nothing else
    assert outcome.rejected == Counter({"bad_signature": 1, "not_json": 1})
    assert outcome.entries == len(identities.key_events) + len(honest) + 2


async def _export(audit):
    async with audit.client.stream("GET", "/api/export") as reply:
        async for chunk in reply.aiter_bytes():
            yield chunk


async def test_a_restarted_service_rebuilds_the_same_tree_and_ignores_redelivered_positions(audit, identities):
    svc, log = audit.service, Log(identities)
    await publish(audit, identities.key_events, topic="rx.keys")
    await publish(audit, log.journey(3))
    await svc.seal()
    before = (svc.ledger.size, svc.ledger.tree.root(), dict(svc.ledger.next_offsets))
    svc.ledger = None  # as after a restart: rebuilt from SQL
    rebuilt = await svc.loaded()
    assert (rebuilt.size, rebuilt.tree.root(), dict(rebuilt.next_offsets)) == before
    records = [type("R", (), dict(topic="rx.keys", partition=0, offset=0, value=identities.key_events[0],
                                  timestamp=None))()]
    await svc.keep(records)  # Kafka redelivering a position already in the ledger
    assert await svc.seal() == 0 and svc.ledger.size == before[0]
