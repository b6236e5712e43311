"""Signed envelopes through a real broker with faststream, verified on the way out."""

from __future__ import annotations

import asyncio
import json
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from events.identities import Identities
from events.rejection import Reason
from events.verifier import Accepted, Rejected, verify
from infra.brokers import Broker
from infra.kafka_options import CONSUMER_GROUP_OPTIONS, PRODUCER_OPTIONS
from tests.factories import signed_issue

pytestmark = pytest.mark.integration

TOPIC = "rx.events"
RECEIVE_TIMEOUT_S = 20


def stream_of(raw: bytes) -> str:
    return json.loads(raw)["stream_id"]


def tamper(raw: bytes) -> bytes:
    """The same envelope, signature kept, with ten boxes instead of one."""
    envelope = json.loads(raw)
    envelope["payload"]["items"][0]["quantity"] = "10"
    return json.dumps(envelope, ensure_ascii=False).encode()


async def test_signed_envelopes_survive_the_broker_and_a_forgery_does_not(
    broker: Broker, identities: Identities
) -> None:
    doctor = identities.signer("dr-wang")
    good = [signed_issue(doctor, seq=seq) for seq in range(1, 6)]
    forged = tamper(signed_issue(doctor, seq=6))
    ours = {stream_of(raw) for raw in [*good, forged]}
    received: dict[str, bytes] = {}
    all_in = asyncio.Event()

    app = KafkaBroker(broker.bootstrap, request_timeout_ms=5000, **PRODUCER_OPTIONS)
    to_events = app.publisher(TOPIC)

    @app.subscriber(
        TOPIC, group_id=f"roundtrip-{uuid4().hex[:8]}", auto_offset_reset="earliest",
        **CONSUMER_GROUP_OPTIONS,
    )
    async def on_events(message: KafkaMessage) -> None:
        raw = message.body
        if stream_of(raw) in ours:  # the session broker also carries other tests' messages
            received[stream_of(raw)] = raw
            if len(received) == len(ours):
                all_in.set()

    async with app:
        await app.start()
        for raw in good:
            await to_events.publish(raw, key=stream_of(raw).encode())
        # The forger writes straight to the log, past any service.
        forger = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, **PRODUCER_OPTIONS)
        await forger.start()
        try:
            await forger.send_and_wait(TOPIC, forged, key=stream_of(forged).encode())
        finally:
            await forger.stop()
        await asyncio.wait_for(all_in.wait(), RECEIVE_TIMEOUT_S)

    keyring = identities.keyring()
    for raw in good:
        result = verify(received[stream_of(raw)], keyring)
        assert isinstance(result, Accepted), result
        assert received[stream_of(raw)] == raw  # byte for byte, as signed
        assert str(result.event.payload.prescription_id) == stream_of(raw)
    rejection = verify(received[stream_of(forged)], keyring)
    assert isinstance(rejection, Rejected)
    assert rejection.reason is Reason.BAD_SIGNATURE
