"""The rule pack: one small pure function per rule, each citing the clause it enforces.

A regulator's replay must reach the same verdict (DESIGN.md: Reference rules), so a rule
reads nothing but its Facts, and any change to a rule bumps RULE_PACK_VERSION. Adding a
rule is one function decorated with @rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from events.schemas import Finding, PrescriptionIssued
from events.schemas.review import Severity

RULE_PACK_VERSION = "2026.11.1"

# The prescriber stamps valid_until and occurred_at from two readings of its clock;
# anything beyond this is a doctor's clock or payload that cannot be trusted.
CLOCK_TOLERANCE = timedelta(minutes=5)
MAX_DRUGS = 5
MAX_VALID_DAYS = 3


class Formulary(Protocol):
    def drug(self, code: str) -> object | None: ...


@dataclass(frozen=True)
class Facts:
    """What a rule may look at: the prescription, when it was issued, when it is reviewed."""

    issued: PrescriptionIssued
    issued_at: datetime
    now: datetime
    formulary: Formulary


Rule = Callable[[Facts], list[Finding]]
RULES: list[Rule] = []


def rule(fn: Rule) -> Rule:
    """Register a rule in the pack, in the order findings are reported."""
    RULES.append(fn)
    return fn


def run(facts: Facts) -> tuple[Finding, ...]:
    """Every finding of every rule, in pack order."""
    return tuple(f for check in RULES for f in check(facts))


def finding(rule_id: str, clause: str, severity: Severity, zh: str, en: str, item: int | None = None) -> Finding:
    """One finding, citing its clause."""
    return Finding(rule_id=rule_id, clause=clause, severity=severity, message_zh=zh, message_en=en, item_index=item)


ART_18 = "处方管理办法 第十八条"


@rule
def validity_days(f: Facts) -> list[Finding]:
    """处方当日有效，延长不得超过3天."""
    days = f.issued.valid_days
    if 1 <= days <= MAX_VALID_DAYS:
        return []
    return [finding("validity.days", ART_18, "block", f"处方有效期{days}天，超出1至3天的规定",
                    f"validity of {days} days is outside 1..3")]


@rule
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


@rule
def not_expired(f: Facts) -> list[Finding]:
    """A prescription already past its validity when reviewed can only be rejected."""
    if f.now < f.issued.valid_until:
        return []
    return [finding("validity.expired", ART_18, "block", "审方时处方已超过有效期",
                    "the prescription had expired when it was reviewed")]


@rule
def max_drugs(f: Facts) -> list[Finding]:
    """每张处方不得超过5种药品."""
    n = len(f.issued.items)
    if n <= MAX_DRUGS:
        return []
    return [finding("format.max_drugs", "处方管理办法 第六条", "block",
                    f"一张处方开具{n}种药品，超过5种", f"{n} drugs on one prescription, more than 5")]


@rule
def known_drugs(f: Facts) -> list[Finding]:
    """Every drug must be in the medical community's formulary (处方集)."""
    return [
        finding("formulary.unknown_drug", "处方管理办法 第十五条", "pharmacist",
                f"药品编码{item.drug_code}（{item.drug_name}）不在本医共体处方集内",
                f"drug code {item.drug_code} ({item.drug_name}) is not in the formulary", i)
        for i, item in enumerate(f.issued.items)
        if f.formulary.drug(item.drug_code) is None
    ]
