"""Kafka admin calls the launcher needs: readiness by metadata, and topic creation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code

T = TypeVar("T")

# The log is the regulator's audit trail: it must never age out (Kafka's default is 7 days).
LOG_TOPIC_CONFIG = {"retention.ms": "-1", "retention.bytes": "-1", "cleanup.policy": "delete"}


class TopicMismatch(RuntimeError):
    """A topic exists with another partition count than configured."""


def run_blocking(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion from sync code, even inside a running event loop."""
    # A worker thread with its own loop, so the sync launcher API also works when called
    # from an async test (where asyncio.run would refuse to nest).
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


async def _with_admin(bootstrap: str, timeout_s: float, use: Callable[[AIOKafkaAdminClient], Awaitable[T]]) -> T:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap,
        request_timeout_ms=int(timeout_s * 1000),
        retry_backoff_ms=100,
    )
    await admin.start()
    try:
        return await use(admin)
    finally:
        await admin.close()


async def _accepts_connections(bootstrap: str, timeout_s: float) -> bool:
    host, _, port = bootstrap.split(",")[0].strip().rpartition(":")
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), timeout_s)
    except (TimeoutError, OSError):
        return False
    writer.close()
    return True


async def metadata_ok(bootstrap: str, timeout_s: float = 2.0) -> bool:
    """True if the broker answers a real metadata request (not just an open port)."""
    # A plain connect first: aiokafka logs every refused connection as an ERROR, which
    # would fill the logs while a broker is still starting.
    if not await _accepts_connections(bootstrap, timeout_s):
        return False
    try:
        await asyncio.wait_for(_with_admin(bootstrap, timeout_s, lambda a: a.list_topics()), timeout_s)
        return True
    except (TimeoutError, KafkaError, OSError):
        return False


async def wait_for_metadata(bootstrap: str, timeout_s: float, alive: Callable[[], bool] = lambda: True) -> None:
    """Poll metadata until it answers; TimeoutError after timeout_s, RuntimeError once not alive()."""
    deadline = time.monotonic() + timeout_s
    while not await metadata_ok(bootstrap):
        if not alive():
            raise RuntimeError(f"broker at {bootstrap} died before answering metadata")
        if time.monotonic() > deadline:
            raise TimeoutError(f"no Kafka metadata from {bootstrap} after {timeout_s:.0f}s")
        await asyncio.sleep(0.2)


async def partition_counts(bootstrap: str, timeout_s: float = 5.0) -> dict[str, int]:
    """Topic name -> number of partitions, as the broker reports them."""

    async def read(admin: AIOKafkaAdminClient) -> dict[str, int]:
        names = await admin.list_topics()
        described = await admin.describe_topics(names) if names else []
        return {t["topic"]: len(t["partitions"]) for t in described if not t["error_code"]}

    return await _with_admin(bootstrap, timeout_s, read)


async def ensure_topics(bootstrap: str, topics: Mapping[str, int], timeout_s: float = 10.0) -> None:
    """Create missing topics; refuse one that exists with another partition count."""
    existing = await partition_counts(bootstrap, timeout_s)
    for name, wanted in topics.items():
        have = existing.get(name)
        if have is not None and have != wanted:
            # Repartitioning moves keys to other partitions and breaks per-prescription order.
            raise TopicMismatch(f"topic {name} has {have} partitions, settings want {wanted}")
    missing = [
        NewTopic(name, num_partitions=n, replication_factor=1, topic_configs=LOG_TOPIC_CONFIG)
        for name, n in topics.items()
        if name not in existing
    ]
    if not missing:
        return

    async def create(admin: AIOKafkaAdminClient) -> None:
        response = await admin.create_topics(missing)
        for topic, code, *message in response.topic_errors:
            # "Already exists" means another launcher won the race: fine.
            if code and code != TopicAlreadyExistsError.errno:
                raise for_code(code)(f"creating topic {topic}: {message}")

    await _with_admin(bootstrap, timeout_s, create)
