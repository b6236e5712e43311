"""Run one service on faststream's in-memory Kafka broker, with its own SQLite store."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from faststream.kafka import TestKafkaBroker
from sqlalchemy import MetaData

from services.kit.db import Database
from services.kit.service import Service
from tests.factories import T0


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Running:
    service: Service
    client: httpx.AsyncClient
    broker: Any
    clock: Clock

    async def publish(self, raw: bytes, key: str, topic: str = "rx.events") -> None:
        """Put a message on the in-memory log, as another service would."""
        await self.broker.publish(raw, topic=topic, key=key.encode())

    async def flush(self) -> None:
        """Publish everything in the outbox (the in-memory broker delivers it at once)."""
        while await self.service.outbox.publish_pending():
            pass

    def auth(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}


@contextlib.asynccontextmanager
async def run_service(
    build: Callable[..., Service], settings_cls: type, tmp_path: Path, keys_dir: Path, **settings: Any
) -> AsyncIterator[Running]:
    """Start a service against the in-memory broker; yields an HTTP client bound to it."""
    clock = Clock()
    # The in-memory broker stamps wall-clock time; the test clock is fixed, so no skew check here.
    settings.setdefault("max_clock_skew_s", None)
    cfg = settings_cls(database_url=f"sqlite+aiosqlite:///{tmp_path}/svc.db", keys_dir=keys_dir, **settings)
    service = build(cfg, clock=clock)
    async with TestKafkaBroker(service.broker) as broker:
        await service.db.create_all(*_metadatas(service))
        service.http.state.started_outside = True
        transport = httpx.ASGITransport(app=service.http)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield Running(service, client, broker, clock)
    await service.db.close()


def _metadatas(service: Service) -> tuple:
    from services.kit import tables
    return (tables.metadata, service.spec.metadata)


@contextlib.asynccontextmanager
async def sqlite_db(path: Path, *metadatas: MetaData) -> AsyncIterator[Database]:
    """A Database on a SQLite file (the inline path services run on) with these tables, closed after."""
    database = Database(f"sqlite+aiosqlite:///{path}")
    await database.create_all(*metadatas)
    try:
        yield database
    finally:
        await database.close()
