"""Validity (处方管理办法 第十八条): 处方开具当日有效，延长有效期最长不得超过3天. Released in 2026.11.1."""

from __future__ import annotations

from datetime import timedelta

from events.schemas import Finding
from services.review.rules.base import Facts, finding

ART_18 = "处方管理办法 第十八条"
MAX_VALID_DAYS = 3
# The prescriber stamps valid_until and occurred_at from two readings of its clock;
# anything beyond this is a doctor's clock or payload that cannot be trusted.
CLOCK_TOLERANCE = timedelta(minutes=5)


def validity_days(f: Facts) -> list[Finding]:
    """处方当日有效，延长不得超过3天."""
    days = f.issued.valid_days
    if 1 <= days <= MAX_VALID_DAYS:
        return []
    return [finding("validity.days", ART_18, "block", f"处方有效期{days}天，超出1至3天的规定",
                    f"validity of {days} days is outside 1..3")]


def validity_window(f: Facts) -> list[Finding]:
    """valid_until must follow the issue time and stay within valid_days of it."""
    until, start = f.issued.valid_until, f.issued_at
    latest = start + timedelta(days=f.issued.valid_days) + CLOCK_TOLERANCE
    if start < until <= latest:
        return []
    days = f.issued.valid_days
    return [finding("validity.window", ART_18, "block",
                    f"有效期至{until:%Y-%m-%d %H:%M}与开具时间{start:%Y-%m-%d %H:%M}及有效天数{days}不符",
                    f"valid_until {until.isoformat()} does not fit issue time {start.isoformat()} and {days} day(s)")]


def not_expired(f: Facts) -> list[Finding]:
    """A prescription already past its validity when reviewed can only be rejected."""
    if f.now < f.issued.valid_until:
        return []
    return [finding("validity.expired", ART_18, "block", "审方时处方已超过有效期",
                    "the prescription had expired when it was reviewed")]
