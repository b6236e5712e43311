"""Real brokers and a real PostgreSQL, started by infra/ once per session where possible."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.brokers import Broker
from infra.postgres import ThrowawayPostgres
from infra.settings import BrokerSettings

# Short on purpose: a broken broker must fail its test in seconds, not hang the suite.
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 8.0


def broker_settings(kind: str, data_dir: Path, **overrides: Any) -> BrokerSettings:
    """Settings from these arguments only: a developer's RXFLOW_* variables must not steer tests."""
    values: dict[str, Any] = {
        "broker_kind": kind,
        "data_dir": data_dir,
        "bootstrap": None,
        "broker_port": None,
        "events_partitions": 3,
        "start_timeout_s": START_TIMEOUT_S,
        "stop_timeout_s": STOP_TIMEOUT_S,
    }
    return BrokerSettings(**{**values, **overrides})


@pytest.fixture(scope="session")
def tansu_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """Tansu on memory:// storage: the fast broker for most integration tests."""
    with Broker(broker_settings("tansu-memory", tmp_path_factory.mktemp("tansu"))) as broker:
        yield broker


@pytest.fixture(scope="session")
def noida_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """noida-db, the second independent Kafka-protocol implementation."""
    with Broker(broker_settings("noida", tmp_path_factory.mktemp("noida"))) as broker:
        yield broker


@pytest.fixture(params=["tansu", "noida"])
def broker(request: pytest.FixtureRequest) -> Broker:
    """Each broker kind in turn, so no test passes thanks to one broker's quirks."""
    return request.getfixturevalue(f"{request.param}_broker")


@pytest.fixture
def durable_broker(tmp_path: Path) -> Iterator[Broker]:
    """Tansu on SeaweedFS S3 in its own data dir; tests may kill and restart it."""
    with Broker(broker_settings("tansu-durable", tmp_path / "broker")) as broker:
        yield broker


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[ThrowawayPostgres]:
    """A throwaway PostgreSQL cluster for the whole session."""
    with ThrowawayPostgres(start_timeout_s=START_TIMEOUT_S, stop_timeout_s=STOP_TIMEOUT_S) as pg:
        yield pg


@pytest.fixture(scope="session")
def postgres_url(postgres_server: ThrowawayPostgres) -> str:
    """postgresql+asyncpg:// URL of the throwaway server's `postgres` database."""
    return postgres_server.url
