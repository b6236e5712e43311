"""Dose, unit and route (医疗机构处方审核规范 第十五条（三）（四）; 处方管理办法 第三十五条).

The daily dose (dose × administrations a day) is compared with the formulary's daily range
for the patient's age. SOURCES.md: a child takes the child range when the label has one, the
adult range from min_age_years up; per-kg child ranges need the weight, and never exceed the
adult range (儿童剂量按体重计算时不超过成人剂量).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from events.schemas import Finding, Item
from services.review.rules.base import ADULT, Facts, age, exact, finding, known, line, num

DOSE = "医疗机构处方审核规范 第十五条（三）"
ROUTE = "医疗机构处方审核规范 第十五条（四）"
# Administrations a day; prn (as needed) and st (once) have none: their single dose is
# held against the daily maximum.
PER_DAY: dict[str, Fraction | None] = {
    "qd": Fraction(1), "bid": Fraction(2), "tid": Fraction(3), "qid": Fraction(4), "qn": Fraction(1),
    "q4h": Fraction(6), "q6h": Fraction(4), "q8h": Fraction(3), "q12h": Fraction(2),
    "qw": Fraction(1, 7), "biw": Fraction(2, 7), "prn": None, "st": None,
}


@dataclass(frozen=True)
class Daily:
    """One item's amount against the range that applies to this patient."""

    index: int
    item: Item
    amount: Fraction  # daily dose, or the single dose for prn/st
    as_needed: bool
    low: Fraction
    high: Fraction
    who_zh: str
    who_en: str


def _range(f: Facts, drug: Any) -> tuple[Any, str, str] | None:
    """The range for this patient's age, or None when the label has none (patient.age speaks then)."""
    years = age(f)
    if years < ADULT and drug.child_daily_dose is not None:
        return drug.child_daily_dose, "儿童", "child"
    if years < ADULT and (drug.min_age_years is None or years < exact(drug.min_age_years)):
        return None
    return (drug.adult_daily_dose, "成人", "adult") if drug.adult_daily_dose is not None else None


def _unit_ok(item: Item, drug: Any) -> bool:
    return item.dose_unit.casefold() == drug.dose_unit.casefold()


def _needs_weight(f: Facts, drug: Any) -> bool:
    found = _range(f, drug)
    return found is not None and found[0].per_kg and f.issued.patient.weight_kg is None


def _dailies(f: Facts) -> Iterator[Daily]:
    for i, item, drug in known(f):
        found = _range(f, drug)
        if found is None or not _unit_ok(item, drug) or _needs_weight(f, drug):
            continue
        rng, who_zh, who_en = found
        low, high = exact(rng.min), exact(rng.max)
        if rng.per_kg:
            kg = exact(f.issued.patient.weight_kg)
            low, high = low * kg, high * kg
            who_zh, who_en = f"儿童（按{num(kg)}kg计）", f"child ({num(kg)} kg)"
            if drug.adult_daily_dose is not None:
                low, high = min(low, exact(drug.adult_daily_dose.min)), min(high, exact(drug.adult_daily_dose.max))
        per_day = PER_DAY[item.frequency]
        amount = exact(item.dose) * (per_day if per_day is not None else 1)
        yield Daily(i, item, amount, per_day is None, low, high, who_zh, who_en)


def _said(d: Daily) -> tuple[str, str]:
    unit = d.item.dose_unit
    if d.as_needed:
        return f"单次剂量{num(d.amount)}{unit}", f"single dose {num(d.amount)} {unit} ({d.item.frequency})"
    return f"日剂量{num(d.amount)}{unit}", f"daily dose {num(d.amount)} {unit}"


def over_max(f: Facts) -> list[Finding]:
    """Above the label's daily maximum (超剂量)."""
    out = []
    for d in (d for d in _dailies(f) if d.amount > d.high):
        (zh, en), (szh, sen), unit = line(d.index, d.item), _said(d), d.item.dose_unit
        out.append(finding("dose.over_max", DOSE, "pharmacist",
                           f"{zh}{szh}超过{d.who_zh}日最大量{num(d.high)}{unit}",
                           f"{en}: {sen} exceeds the {d.who_en} daily maximum {num(d.high)} {unit}", d.index))
    return out


def under_min(f: Facts) -> list[Finding]:
    """Below the label's usual daily amount (as-needed doses have no floor)."""
    out = []
    for d in (d for d in _dailies(f) if not d.as_needed and d.amount < d.low):
        (zh, en), (szh, sen), unit = line(d.index, d.item), _said(d), d.item.dose_unit
        out.append(finding("dose.under_min", DOSE, "pharmacist",
                           f"{zh}{szh}低于{d.who_zh}常用日剂量下限{num(d.low)}{unit}",
                           f"{en}: {sen} is below the {d.who_en} usual minimum {num(d.low)} {unit}", d.index))
    return out


def weight_missing(f: Facts) -> list[Finding]:
    """A per-kg child dose cannot be checked without the weight (必要时注明体重)."""
    return [finding("dose.weight_missing", DOSE, "pharmacist",
                    f"{line(i, item)[0]}儿童剂量按体重计算，处方未注明体重",
                    f"{line(i, item)[1]}: the child dose is per kg and no weight is given", i)
            for i, item, drug in known(f) if _needs_weight(f, drug)]


def dose_unit(f: Facts) -> list[Finding]:
    """The dose must be written in the formulary's unit, or it cannot be checked."""
    return [finding("dose.unit", DOSE, "pharmacist",
                    f"{line(i, item)[0]}剂量单位{item.dose_unit}与处方集单位{drug.dose_unit}不符，无法核对剂量",
                    f"{line(i, item)[1]}: dose unit {item.dose_unit} is not the formulary's {drug.dose_unit}", i)
            for i, item, drug in known(f) if not _unit_ok(item, drug)]


def dose_route(f: Facts) -> list[Finding]:
    """The route must be the product's route (选用剂型与给药途径是否适宜)."""
    return [finding("dose.route", ROUTE, "pharmacist",
                    f"{line(i, item)[0]}给药途径{item.route}与剂型规定的{drug.route}不符",
                    f"{line(i, item)[1]}: route {item.route} is not the product's route {drug.route}", i)
            for i, item, drug in known(f) if item.route.casefold() != drug.route]
