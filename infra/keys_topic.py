"""Put the root-signed key events on rx.keys, once: a regulator learns every key from the log."""

from __future__ import annotations

import json

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

KEYS_TOPIC = "rx.keys"


async def published_key_event_ids(bootstrap: str, topic: str = KEYS_TOPIC) -> set[str]:
    """event_ids already on the keys topic (it is small: one event per key)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        part = TopicPartition(topic, 0)
        consumer.assign([part])
        end = (await consumer.end_offsets([part]))[part]
        await consumer.seek_to_beginning(part)
        seen: set[str] = set()
        while end and (await consumer.position(part)) < end:
            for records in (await consumer.getmany(part, timeout_ms=1000)).values():
                seen.update(json.loads(r.value)["event_id"] for r in records)
        return seen
    finally:
        await consumer.stop()


async def publish_key_events(bootstrap: str, key_events: list[bytes], topic: str = KEYS_TOPIC) -> int:
    """Publish the key events not yet on the topic; returns how many were sent."""
    already = await published_key_event_ids(bootstrap, topic)
    missing = [raw for raw in key_events if json.loads(raw)["event_id"] not in already]
    if not missing:
        return 0
    # Tansu's storage rejects the idempotent producer (DESIGN.md: Brokers).
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, acks="all")
    await producer.start()
    try:
        for raw in missing:
            await producer.send_and_wait(topic, raw, key=json.loads(raw)["stream_id"].encode())
    finally:
        await producer.stop()
    return len(missing)
