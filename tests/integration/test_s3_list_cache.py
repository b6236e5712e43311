"""The S3 front of the durable broker (infra/s3_list_cache.py) never hides a batch from a reader."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from infra.brokers import Broker
from infra.kafka_options import PRODUCER_OPTIONS
from infra.s3_list_cache import read_stats

pytestmark = pytest.mark.integration

TOPIC = "rx.checkpoints"  # one partition: every batch lands under one LIST prefix
READERS = 3
ROUNDS = 12
WAIT_S = 10.0


async def next_values(reader: AIOKafkaConsumer, tp: TopicPartition, count: int) -> list[bytes]:
    got: list[bytes] = []
    async with asyncio.timeout(WAIT_S):
        while len(got) < count:
            got += [r.value for r in (await reader.getmany(tp, timeout_ms=500)).get(tp, [])]
    return got


async def test_readers_see_each_new_batch_while_repeated_lists_are_spared(
    durable_broker: Broker,
) -> None:
    # Every round puts one new batch object under the partition's prefix, then several readers
    # fetch it: one LIST goes through to SeaweedFS and the others share it or its cached answer;
    # an answer kept from before the produce would hide the new batch from all of them.
    tp = TopicPartition(TOPIC, 0)
    producer = AIOKafkaProducer(bootstrap_servers=durable_broker.bootstrap, **PRODUCER_OPTIONS)
    readers = [AIOKafkaConsumer(bootstrap_servers=durable_broker.bootstrap, enable_auto_commit=False,
                                fetch_max_wait_ms=100) for _ in range(READERS)]
    await producer.start()
    for reader in readers:
        await reader.start()
        reader.assign([tp])
    try:
        start = (await readers[0].end_offsets([tp]))[tp]
        for reader in readers:
            reader.seek(tp, start)
        port = durable_broker.s3_cache_port
        assert port is not None  # tansu-durable runs the front
        before = read_stats(port)
        for n in range(ROUNDS):
            await producer.send_and_wait(TOPIC, f"round {n}".encode())
            for reader in readers:
                assert await next_values(reader, tp, 1) == [f"round {n}".encode()]
        late = AIOKafkaConsumer(bootstrap_servers=durable_broker.bootstrap, enable_auto_commit=False)
        await late.start()
        late.assign([tp])
        late.seek(tp, start)
        assert await next_values(late, tp, ROUNDS) == [f"round {n}".encode() for n in range(ROUNDS)]
        await late.stop()
    finally:
        await producer.stop()
        for reader in readers:
            await reader.stop()
    after = read_stats(port)
    spared = sum(after[k] - before[k] for k in ("list_answered_from_cache", "list_shared_in_flight"))
    assert spared >= ROUNDS, after  # readers after the first were answered without SeaweedFS
    assert after["list_sent_on"] - before["list_sent_on"] >= ROUNDS, after  # each new batch listed afresh
