"""The throwaway PostgreSQL answers through SQLAlchemy async and goes away cleanly."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from infra.postgres import ThrowawayPostgres

pytestmark = pytest.mark.integration


async def scalar(url: str, sql: str) -> object:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(text(sql))).scalar_one()
    finally:
        await engine.dispose()


async def test_the_session_postgres_answers_select_1(postgres_url: str) -> None:
    assert postgres_url.startswith("postgresql+asyncpg://")
    assert await scalar(postgres_url, "select 1") == 1


async def test_a_fresh_database_per_contract_test(postgres_server: ThrowawayPostgres) -> None:
    url = postgres_server.create_database("contract_one")
    assert await scalar(url, "select current_database()") == "contract_one"


async def test_stop_ends_the_server_and_deletes_its_files() -> None:
    pg = ThrowawayPostgres(start_timeout_s=20, stop_timeout_s=5).start()
    pid, base = pg.child.pid, pg.base  # type: ignore[union-attr]
    assert await scalar(pg.url, "select 1") == 1
    # A client still connected must not stall the stop ("fast" shutdown).
    engine = create_async_engine(pg.url)
    held = await engine.connect()
    await held.execute(text("select 1"))
    pg.stop()
    await held.invalidate()  # the server is gone; do not try a polite rollback
    await engine.dispose()
    assert not pg.running()
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)  # type: ignore[arg-type]
    assert base is not None and not base.exists()
