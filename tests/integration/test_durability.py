"""What the durable broker acknowledged survives a crash of every broker process."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from faststream.kafka import KafkaBroker

from events.identities import Identities
from events.seal import seal
from events.signing import Signer
from events.verifier import Accepted, verify
from infra.brokers import Broker
from infra.kafka_options import PRODUCER_OPTIONS
from tests.factories import T0, cancelled, issued
from tests.integration.conftest import broker_settings

pytestmark = pytest.mark.integration

TOPIC = "rx.events"
STREAMS = 150  # two envelopes each: issued, then cancelled
READ_TIMEOUT_S = 20


@dataclass(frozen=True)
class Record:
    partition: int
    offset: int
    key: bytes
    value: bytes


def prescription_histories(doctor: Signer, streams: int) -> list[bytes]:
    """issued (v1) of every stream, then cancelled (v2) of every stream; producer_seq 1..2n."""
    ids = [uuid4() for _ in range(streams)]
    payloads = [(issued(doctor, pid), 1) for pid in ids] + [(cancelled(doctor, pid), 2) for pid in ids]
    return [
        seal(payload, stream_id=str(payload.prescription_id), stream_version=version,
             producer="prescriber", signer=doctor, producer_seq=seq, occurred_at=T0)
        for seq, (payload, version) in enumerate(payloads, start=1)
    ]


async def publish_acknowledged(bootstrap: str, envelopes: list[bytes]) -> list[tuple[int, int]]:
    """Publish every envelope keyed by its stream, await every ack; (partition, offset) each."""
    app = KafkaBroker(bootstrap, request_timeout_ms=5000, **PRODUCER_OPTIONS)
    async with app:
        await app.start()
        pending = [
            await app.publish(raw, TOPIC, key=json.loads(raw)["stream_id"].encode(), no_confirm=True)
            for raw in envelopes
        ]
        acks = await asyncio.wait_for(asyncio.gather(*pending), READ_TIMEOUT_S)
    return [(ack.partition, ack.offset) for ack in acks]


async def read_log(bootstrap: str) -> list[Record]:
    """Every record of rx.events from the beginning, without a consumer group."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(TOPIC, p) for p in consumer.partitions_for_topic(TOPIC) or []]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[Record] = []
        async with asyncio.timeout(READ_TIMEOUT_S):
            while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
                batch = await consumer.getmany(timeout_ms=500)
                for tp, messages in batch.items():
                    records += [Record(tp.partition, m.offset, m.key, m.value) for m in messages]
        return records
    finally:
        await consumer.stop()


def assert_log_holds(records: list[Record], sent: list[bytes], acks: list[tuple[int, int]],
                     identities: Identities) -> None:
    """Every ack still points at its bytes, per-key order holds, everything still verifies."""
    at = {(r.partition, r.offset): r.value for r in records}
    lost = [i for i, ack in enumerate(acks) if at.get(ack) != sent[i]]
    assert not lost, f"{len(lost)} of {len(sent)} acknowledged envelopes lost or changed"
    assert len(records) == len(sent), "records on the log that nobody acknowledged"
    by_key: dict[bytes, list[dict[str, object]]] = defaultdict(list)
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        by_key[record.key].append(json.loads(record.value))
    for key, history in by_key.items():
        assert [e["stream_version"] for e in history] == [1, 2], key
        assert history[0]["producer_seq"] < history[1]["producer_seq"], key  # type: ignore[operator]
    keyring = identities.keyring()
    refused = [r for r in records if not isinstance(verify(r.value, keyring), Accepted)]
    assert not refused


async def test_acknowledged_envelopes_survive_sigkill_of_tansu_and_weed(
    durable_broker: Broker, identities: Identities
) -> None:
    sent = prescription_histories(identities.signer("dr-wang"), STREAMS)
    acks = await publish_acknowledged(durable_broker.bootstrap, sent)

    durable_broker.kill()  # tansu and weed at once, right after the last ack
    assert not durable_broker.running()
    durable_broker.restart()

    assert_log_holds(await read_log(durable_broker.bootstrap), sent, acks, identities)


async def test_a_fresh_launcher_on_the_same_data_dir_finds_the_log(
    tmp_path: Path, identities: Identities
) -> None:
    # What `make run` twice does: new ports for every weed server and for Kafka, same files.
    settings = broker_settings("tansu-durable", tmp_path / "broker")
    sent = prescription_histories(identities.signer("dr-li"), 5)
    with Broker(settings) as first:
        acks = await publish_acknowledged(first.bootstrap, sent)
    with Broker(settings) as second:
        assert second.bootstrap != first.bootstrap
        assert_log_holds(await read_log(second.bootstrap), sent, acks, identities)
