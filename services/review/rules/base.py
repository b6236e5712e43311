"""What a rule reads (Facts) and what it returns (findings citing a clause); shared helpers.

A regulator's replay must reach the same verdict (DESIGN.md: Reference rules), so a rule
reads nothing but its Facts, and every number it compares is exact (Fraction, not float).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any, Protocol

from events.schemas import Finding, Item, PrescriptionIssued
from events.schemas.review import Severity

ADULT = Fraction(18)  # 中国国家处方集（儿童版）: under 18 is a child
MAX_MESSAGE = 500  # events.schemas.review.Finding


class Formulary(Protocol):
    """The formulary as rules see it (services.review.formulary.Formulary)."""

    version: str

    def drug(self, code: str) -> Any | None: ...

    def cls(self, class_id: str) -> Any | None: ...

    def interactions_between(self, code_a: str, code_b: str) -> list[Any]: ...


@dataclass(frozen=True)
class Facts:
    """What a rule may look at: the prescription, when it was issued and reviewed, the formulary,
    and the kind of organisation that prescribed (events.directory: clinic, hospital, ...)."""

    issued: PrescriptionIssued
    issued_at: datetime
    now: datetime
    formulary: Formulary
    clinic_kind: str | None = None


Rule = Callable[[Facts], list[Finding]]


def _clip(text: str) -> str:
    # Drug names and allergy lists come from the doctor: a long one must shorten the message,
    # not make the rule raise (the event would be retried for ever).
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def finding(rule_id: str, clause: str, severity: Severity, zh: str, en: str, item: int | None = None) -> Finding:
    """One finding, citing its clause."""
    return Finding(rule_id=rule_id, clause=clause, severity=severity, message_zh=_clip(zh), message_en=_clip(en),
                   item_index=item)


def known(f: Facts) -> Iterator[tuple[int, Item, Any]]:
    """(index, item, drug) for every item in the formulary; unknown drugs have their own finding."""
    for i, item in enumerate(f.issued.items):
        drug = f.formulary.drug(item.drug_code)
        if drug is not None:
            yield i, item, drug


def exact(value: float | int | Decimal) -> Fraction:
    """A formulary float or a payload Decimal as the exact decimal it was written as."""
    return Fraction(value) if isinstance(value, Decimal | int) else Fraction(repr(value))


def age(f: Facts) -> Fraction:
    """The patient's age in years, months included (infants)."""
    p = f.issued.patient
    return Fraction(p.age_years) + Fraction(p.age_months or 0, 12)


def num(value: Fraction | float | Decimal) -> str:
    """A number as a person writes it: at most three decimals, no trailing zeros."""
    x = value if isinstance(value, Fraction) else exact(value)
    text = f"{Decimal(x.numerator) / Decimal(x.denominator):.3f}"
    return text.rstrip("0").rstrip(".")


def line(i: int, item: Item) -> tuple[str, str]:
    """How a finding names an item, in Chinese and English."""
    return f"第{i + 1}项{item.drug_name}", f"item {i + 1} ({item.drug_code})"
