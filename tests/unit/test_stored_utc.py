"""Timestamps read back from a store carry their zone (SQLite drops it; we store UTC)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from services.kit.rows import stored_utc


def test_naive_timestamps_are_read_as_utc_and_everything_else_is_left_alone():
    naive = datetime(2026, 11, 23, 8, 0, 0, 120)
    assert stored_utc(naive) == naive.replace(tzinfo=UTC) and stored_utc(naive).tzinfo is UTC
    beijing = datetime(2026, 11, 23, 16, 0, tzinfo=timezone(timedelta(hours=8)))
    assert stored_utc(beijing) is beijing
    assert stored_utc(None) is None and stored_utc("2026-11-23") == "2026-11-23"
