"""The review read model: a store made before the upper-level columns existed gains them on start."""

from __future__ import annotations

from sqlalchemy import Column, MetaData, Table, inspect

from services.kit.db import Database
from services.review import store


async def test_columns_added_since_the_table_first_shipped_are_added_to_an_existing_store(tmp_path):
    old = MetaData()
    Table(store.reviews.name, old, *[Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable)
                                     for c in store.reviews.columns if c.name not in store.ADDED_COLUMNS])
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/review.db")
    try:
        await db.create_all(old)
        await db.create_all(store.metadata)
        await db.create_all(store.metadata)  # and once they are there, nothing more happens
        async with db.engine.connect() as conn:
            names = await conn.run_sync(lambda c: {col["name"] for col in inspect(c).get_columns("reviews")})
    finally:
        await db.close()
    assert set(store.ADDED_COLUMNS) <= names
