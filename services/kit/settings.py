"""Settings every service shares; each service subclasses with its own env prefix."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Where the broker, the database and the keys are; refuses what would be unsafe."""

    model_config = SettingsConfigDict(extra="ignore")

    database_url: str = Field(description="SQLAlchemy async URL of this service's own database")
    bootstrap: str = Field(default="127.0.0.1:9092", description="Kafka bootstrap servers")
    keys_dir: Path = Field(default=Path("var/keys"), description="identities made by infra.identities")
    events_topic: str = "rx.events"
    keys_topic: str = "rx.keys"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # Refuse events whose occurred_at strays from the broker's append time (backdating);
    # off only where a test drives a fake clock.
    max_clock_skew_s: int | None = Field(default=600, ge=1)
    # Demos and drills only: run the service as if it were this many seconds later (the demo
    # uses it to show expiry without waiting a day). Future-dated events are not refused.
    clock_offset_s: float = Field(default=0.0, ge=0.0)
    outbox_batch: int = Field(default=500, ge=1, le=10_000)
    # Bytes the producer packs into one request per partition. Tansu's cost is per request
    # (an S3 write each): measured raw on tansu-durable, 16 KiB (aiokafka's default) gave
    # ~1,100 msgs/s, 1 MiB ~7,000. 512 KiB stays under Apache Kafka's default 1 MB message.max.bytes.
    producer_batch_bytes: int = Field(default=512 * 1024, ge=16 * 1024, le=1024 * 1024)
    # Records consumed (verified, applied in one transaction, acknowledged) at a time, and how
    # long a fetch waits for the first of them.
    consume_batch: int = Field(default=500, ge=1, le=10_000)
    # faststream sleeps this long again after an empty fetch, so it is also the idle latency
    # (a record that lands during the sleep waits for its end: 12 ms on average at 50). At 10 the
    # loop woke 50 times a second for nothing: an idle service took 2.8 % of a core, 1.5 % at 50.
    consume_wait_ms: int = Field(default=50, ge=1, le=10_000)
    # Least time between the starts of two consumed batches. Each fetch that finds something
    # new costs the embedded broker a LIST of the partition's stored batches, which grows with
    # the log; a consumer fetching after every few records made it the pipeline's bottleneck.
    # This much latency per hop buys fetches that carry more records each.
    consume_interval_ms: int = Field(default=100, ge=0, le=10_000)
    # Least time between two commits of the consumer's offsets, each made only after the records
    # were kept in SQL (kit/commits.py: on the embedded broker each commit writes two S3 objects).
    commit_interval_ms: int = Field(default=1000, ge=0, le=60_000)
    # Least time the outbox waits after a wake-up before publishing, so that the events of
    # commits close together leave in one produce request (an object PUT each on Tansu's store).
    publish_linger_ms: int = Field(default=20, ge=0, le=10_000)
    # How long the broker may hold a fetch that has nothing new (aiokafka's default is 500 ms).
    fetch_wait_ms: int = Field(default=500, ge=1, le=10_000)
    # Tansu needs short sessions for group joins to be quick (DESIGN.md: Brokers).
    session_timeout_ms: int = Field(default=6000, ge=1000)
    # A third of the session, as Kafka advises. On the embedded broker every heartbeat writes the
    # group's state as an S3 object (about 5 ms of broker CPU): at 500 ms, the groups' heartbeats
    # alone kept SeaweedFS and Tansu at 13 % of a core on an idle platform (5 % at 2000 ms).
    heartbeat_interval_ms: int = Field(default=2000, ge=100)

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, url: str) -> str:
        if not (url.startswith("sqlite+aiosqlite://") or url.startswith("postgresql+asyncpg://")):
            raise ValueError("database_url must use sqlite+aiosqlite:// or postgresql+asyncpg://")
        return url

    @field_validator("keys_dir")
    @classmethod
    def _keys_exist(cls, path: Path) -> Path:
        if not (path / "actors.json").exists():
            raise ValueError(f"no identities in {path}: run `make identities` first")
        return path
