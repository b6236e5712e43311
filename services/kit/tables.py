"""The tables every service has: its event store (its own outbox), consumed log, rejections, sequences."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

# The events this service decided. The unique (stream_id, stream_version) is where
# concurrent writers inside the service meet: exactly one of them gets each version.
# The table is also its own transactional outbox: every append first takes the producer_seq row
# (EventStore._next_seqs), which serialises appends until they commit, so positions are taken
# and committed in the same order and no row ever commits below one already visible. The
# publisher sends the rows past its cursor (publish_cursor) and moves the cursor past them.
events = Table(
    "events",
    metadata,
    Column("position", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("stream_id", String(64), nullable=False),
    Column("stream_version", Integer, nullable=False),
    Column("type", String(64), nullable=False),
    Column("producer_seq", Integer, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("raw", LargeBinary, nullable=False),
    UniqueConstraint("stream_id", "stream_version", name="uq_events_stream_version"),
)

# How far the publisher has sent the events table to each topic: the last position on the log.
publish_cursor = Table(
    "publish_cursor",
    metadata,
    Column("topic", String(64), primary_key=True),
    Column("position", Integer, nullable=False),
)

# Transactional outbox for messages that are not events of the store (the audit's signed
# checkpoints): written in the transaction that decides them, published at least once after.
outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("topic", String(64), nullable=False),
    Column("key", String(64), nullable=False),
    Column("raw", LargeBinary, nullable=False),
    Column("published", Boolean, nullable=False, default=False, index=True),
)

# Every verified event consumed from the log, in arrival order: the tracking table that
# makes consumers idempotent, and this service's copy of the streams it folds.
inbox = Table(
    "inbox",
    metadata,
    Column("position", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("stream_id", String(64), nullable=False, index=True),
    Column("stream_version", Integer, nullable=False),
    Column("type", String(64), nullable=False),
    Column("producer", String(32), nullable=False),
    Column("producer_seq", Integer, nullable=False),
    Column("raw", LargeBinary, nullable=False),
    Column("topic", String(64), nullable=False),
    Column("partition", Integer, nullable=True),
    Column("offset", Integer, nullable=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("void_reason", Text, nullable=True),
)

# Messages refused by the verifier, kept with their reason; the traffic flows on.
rejections = Table(
    "rejections",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("topic", String(64), nullable=False),
    Column("partition", Integer, nullable=True),
    Column("offset", Integer, nullable=True),
    Column("event_id", String(64), nullable=True),
    Column("reason", String(32), nullable=False),
    Column("detail", Text, nullable=False),
    Column("raw", LargeBinary, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)

# Per-producer counters, bumped in the transaction that writes the event: no gaps.
producer_seq = Table(
    "producer_seq",
    metadata,
    Column("producer", String(32), primary_key=True),
    Column("last", Integer, nullable=False),
)
