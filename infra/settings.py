"""Settings of the local broker launcher (env prefix RXFLOW_)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

BrokerKind = Literal["tansu-durable", "tansu-memory", "noida", "external"]
BROKER_KINDS: tuple[str, ...] = get_args(BrokerKind)
LAUNCHED_KINDS = frozenset(BROKER_KINDS) - {"external"}


class BrokerSettings(BaseSettings):
    """Which Kafka-protocol broker to run locally, where, and with which topics."""

    model_config = SettingsConfigDict(env_prefix="RXFLOW_", extra="forbid")

    broker_kind: BrokerKind = Field(
        default="tansu-durable",
        description="tansu-durable (Tansu on SeaweedFS S3), tansu-memory, noida or external",
        examples=list(BROKER_KINDS),
    )
    bootstrap: str | None = Field(
        default=None,
        description="host:port of an already running broker; only with broker_kind=external",
        examples=["127.0.0.1:9092"],
    )
    broker_port: int | None = Field(
        default=None, ge=1, le=65535, description="Kafka port of a launched broker; free if unset"
    )
    data_dir: Path = Field(default=Path("var/broker"), description="broker data and child logs")
    # One by default: on Tansu's S3 store every partition a produce request touches is an object
    # PUT plus a watermark PUT, and every fetch LISTs each partition with new data in full, so
    # broker CPU grows with the partition count (measured in `make bench`: SeaweedFS and Tansu
    # took 63 ms of CPU per prescription with 3 partitions, 17 ms with 1). Each service runs one
    # consumer, so more partitions buy nothing here; Apache Kafka (docker-compose.yml) keeps its own.
    events_partitions: int = Field(default=1, ge=1, le=1000, description="partitions of rx.events")
    start_timeout_s: float = Field(default=30.0, gt=0, description="give up starting after this")
    stop_timeout_s: float = Field(default=10.0, gt=0, description="SIGKILL after this on stop")

    @model_validator(mode="after")
    def _bootstrap_matches_kind(self) -> BrokerSettings:
        if self.broker_kind == "external" and not self.bootstrap:
            raise ValueError("broker_kind=external needs RXFLOW_BOOTSTRAP=host:port")
        if self.broker_kind != "external" and self.bootstrap:
            # Silently ignoring it would let a developer believe he talks to his own broker.
            raise ValueError(
                f"RXFLOW_BOOTSTRAP is only for broker_kind=external, not {self.broker_kind}; "
                "use RXFLOW_BROKER_PORT to fix the port of a launched broker"
            )
        if self.broker_kind == "external" and self.broker_port is not None:
            raise ValueError("RXFLOW_BROKER_PORT makes no sense with broker_kind=external")
        return self

    def topics(self) -> dict[str, int]:
        """Topic name -> partition count that every broker must carry."""
        # rx.keys and rx.checkpoints stay single-partition: their readers need one total order.
        return {"rx.events": self.events_partitions, "rx.keys": 1, "rx.checkpoints": 1}

