"""The S3 front of the durable broker (infra/s3_list_cache.py) never hides a batch from a reader."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from xml.etree import ElementTree

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from infra.brokers import Broker
from infra.kafka_options import PRODUCER_OPTIONS
from infra.launchers import S3_BUCKET
from infra.s3_list_cache import read_stats
from infra.s3_listing import parse_page

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


async def test_readers_see_each_new_batch_from_the_fronts_own_listing(
    durable_broker: Broker,
) -> None:
    # Every round puts one new batch object under the partition's prefix, then several readers
    # fetch it: the front answers their LISTs from its own listing, which must show the batch
    # (a listing the produce did not reach would hide it from all of them), and gives the batch
    # itself to the readers after the first.
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
    # Once loaded, the listing was kept by the writes the front relayed, and readers were answered
    # from it: none of the new batches sent a LIST on to SeaweedFS.
    assert after["list_answered_by_front"] - before["list_answered_by_front"] >= ROUNDS * READERS, after
    assert after["list_sent_on"] - before["list_sent_on"] < ROUNDS, after
    assert after["listings_dropped"] == 0, after
    # Each new batch was fetched from SeaweedFS once and given to the other readers by the front.
    assert after["batch_gets_answered_by_front"] - before["batch_gets_answered_by_front"] >= ROUNDS, after
    prefix = f"clusters/tansu_cluster/topics/{TOPIC}/partitions/0000000000/records/"
    assert front_listing(port, prefix) == filer_listing(durable_broker.weed_ports["filer.port"], prefix)


def front_listing(port: int, prefix: str) -> dict[str, int]:
    """Key -> size of every object the front lists under prefix, from its own listing (a LIST it
    sent on to SeaweedFS unsigned would be refused)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/{S3_BUCKET}?list-type=2&prefix={prefix}") as reply:
        page = parse_page(reply.read())
    assert page.next_token is None
    return {k: int(ElementTree.fromstring(e).findtext("Size") or -1) for k, e in page.entries}


def filer_listing(filer_port: int, prefix: str) -> dict[str, int]:
    """Key -> size of every object SeaweedFS's filer holds under prefix (its own HTTP API)."""
    request = urllib.request.Request(f"http://127.0.0.1:{filer_port}/buckets/{S3_BUCKET}/{prefix}?limit=10000",
                                     headers={"Accept": "application/json"})
    with urllib.request.urlopen(request) as reply:
        entries = json.loads(reply.read())["Entries"] or []
    root = f"/buckets/{S3_BUCKET}/"
    return {e["FullPath"].removeprefix(root): e["FileSize"] for e in entries}
