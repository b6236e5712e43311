"""A pack leaves once even when two pharmacists scan it at the same moment, on either database."""

from __future__ import annotations

import asyncio
import itertools
from uuid import uuid4

import pytest

from events.schemas import DispensedLine
from services.kit.db import Database
from services.pharmacy.store import metadata, take_packs
from tests.factories import T0

pytestmark = pytest.mark.integration
_names = itertools.count()
PACK = "81234567890123456789"


def lines(*codes: str) -> list[DispensedLine]:
    return [DispensedLine(item_index=0, drug_code="C08CA01-TAB-5MG", quantity=1, batch_no="B1", trace_codes=codes)]


@pytest.fixture(params=["sqlite", "postgresql"])
async def db(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path}/pharmacy.db"
    else:
        url = request.getfixturevalue("postgres_server").create_database(f"packs_{next(_names)}_{uuid4().hex[:6]}")
    database = Database(url)
    await database.create_all(metadata)
    yield database
    await database.close()


async def test_two_dispenses_of_one_pack_at_once_the_second_sees_the_first(db):
    inside, finish = asyncio.Event(), asyncio.Event()

    async def first() -> list:
        async with db.write() as s:
            held = await take_packs(s, "rx-a", "pharm-county", lines(PACK, "81234567890123450000"), T0)
            inside.set()
            await finish.wait()  # the first dispense is still deciding when the second scans
        return held

    async def second() -> list:
        await inside.wait()
        async with db.write() as s:
            return await take_packs(s, "rx-b", "pharm-renhe", lines(PACK), T0)

    one, two = asyncio.create_task(first()), asyncio.create_task(second())
    await asyncio.wait_for(inside.wait(), 10)
    await asyncio.sleep(0.3)
    assert not two.done()  # it waits for the first transaction (the write lock, or the row's)
    finish.set()
    assert await one == []
    assert [(p.trace_code, p.prescription_id, p.pharmacy_id) for p in await two] == [(PACK, "rx-a", "pharm-county")]


async def test_a_refused_dispense_leaves_no_pack_behind(db):
    with pytest.raises(RuntimeError):
        async with db.write() as s:
            await take_packs(s, "rx-a", "pharm-county", lines(PACK), T0)
            raise RuntimeError("the decision refused")  # the transaction rolls back
    async with db.write() as s:
        assert await take_packs(s, "rx-b", "pharm-renhe", lines(PACK), T0) == []


async def test_a_pack_look_up_inside_a_write_reads_what_core_reads(db):
    """On SQLite a write session looks packs up straight through sqlite3; a session of its own
    goes through Core: the same rows, with their times and flags as Core converts them."""
    from services.kit.rows import raw_sqlite, select_in, stored_utc
    from services.pharmacy.store import packs

    at = T0.replace(microsecond=654321)
    async with db.write() as s:
        await take_packs(s, "rx-a", "pharm-county", lines(PACK, "81234567890123450000"), at)
    wanted = [PACK, "81234567890123450000", "81234567890123459999"]  # the last one never left
    async with db.write() as s:
        assert (raw_sqlite(s) is not None) == db.url.startswith("sqlite")  # the path compared below
        inside = await select_in(s, packs, "trace_code", wanted)
    async with db.sessions.begin() as s:  # a session of its own: always the Core path
        assert raw_sqlite(s) is None
        core = await select_in(s, packs, "trace_code", wanted)
    assert sorted(map(tuple, inside)) == sorted(map(tuple, core))
    assert {r.trace_code for r in inside} == {PACK, "81234567890123450000"}
    assert {(r.prescription_id, r.split, stored_utc(r.dispensed_at)) for r in inside} == {("rx-a", False, at)}
