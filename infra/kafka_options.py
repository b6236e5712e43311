"""Kafka client options that work on every broker we run: Tansu, noida-db and Apache Kafka.

Measured on this project's brokers (aiokafka 0.14):
- Tansu refuses the idempotent producer, so it stays off; correctness comes from
  event_id dedupe and the outbox (DESIGN.md), not from Kafka idempotence.
- A Tansu group join takes about half the session timeout (2 s -> 1.1 s, 6 s -> 3.1 s,
  45 s -> 23 s), so the timeout is kept low.
- noida-db refuses a session timeout below 6000 ms (InvalidSessionTimeoutError), as does
  Apache Kafka with its default group.min.session.timeout.ms; 6000 is the lowest portable value.
- AIOKafkaAdminClient.list_consumer_group_offsets breaks on Tansu (its OffsetFetch reply does
  not decode; the connection drops). AIOKafkaConsumer(group_id=...).committed(tp) works on both.
"""

from __future__ import annotations

from typing import Any

PRODUCER_OPTIONS: dict[str, Any] = {"enable_idempotence": False, "acks": "all"}

CONSUMER_GROUP_OPTIONS: dict[str, Any] = {"session_timeout_ms": 6000, "heartbeat_interval_ms": 1000}
