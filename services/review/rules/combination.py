"""Duplicate therapy and interactions (医疗机构处方审核规范 第十五条（五）).

是否有重复给药和有临床意义的相互作用, between Western drugs, patent medicines, or both.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from events.schemas import Finding, Item
from services.review.rules.base import Facts, finding, known, line

CLAUSE = "医疗机构处方审核规范 第十五条（五）"


def _pairs(f: Facts) -> Iterator[tuple[int, Item, Any, int, Item, Any]]:
    """Every pair of known items (earlier, later), in prescription order."""
    drugs = list(known(f))
    for n, (j, later, b) in enumerate(drugs):
        for i, earlier, a in drugs[:n]:
            yield i, earlier, a, j, later, b


def _duplicates(f: Facts, a: Any, b: Any) -> tuple[str, str] | None:
    """How two drugs duplicate each other, in Chinese and English; None if they do not."""
    if a.code == b.code:
        return "为同一药品", "the same drug"
    if a.atc_code and a.atc_code == b.atc_code:  # one substance in two products, in any class
        return "为同一成分", "the same substance"
    cls = f.formulary.cls(a.class_id)
    if a.class_id == b.class_id and cls is not None and cls.duplicate_therapy:
        return f"同属{cls.name_zh}", f"both {cls.name_en}"
    return None


def duplicate_therapy(f: Facts) -> list[Finding]:
    """Two drugs of one class whose class says they duplicate (e.g. two statins), or one substance
    twice; once per later item."""
    out, flagged = [], set()
    for i, earlier, a, j, later, b in _pairs(f):
        how = None if j in flagged else _duplicates(f, a, b)
        if how is None:
            continue
        flagged.add(j)
        out.append(finding("therapy.duplicate", CLAUSE, "pharmacist",
                           f"{line(j, later)[0]}与第{i + 1}项{earlier.drug_name}{how[0]}，重复用药",
                           f"{line(j, later)[1]} duplicates item {i + 1} ({earlier.drug_code}): {how[1]}", j))
    return out


def _interactions(f: Facts, severity: str, rule_id: str, level: str) -> list[Finding]:
    out = []
    for i, earlier, a, j, later, b in _pairs(f):
        for hit in f.formulary.interactions_between(a.code, b.code):
            if hit.severity != severity:
                continue
            (zh, en), other = line(j, later), f"item {i + 1} ({earlier.drug_code})"
            out.append(finding(rule_id, CLAUSE, level,
                               f"{zh}与第{i + 1}项{earlier.drug_name}相互作用：{hit.effect_zh}",
                               f"{en} interacts with {other}: {hit.effect_en}", j))
    return out


def interaction_major(f: Facts) -> list[Finding]:
    """A major interaction: a pharmacist decides."""
    return _interactions(f, "major", "interaction.major", "pharmacist")


def interaction_moderate(f: Facts) -> list[Finding]:
    """A moderate interaction travels as information with the verdict."""
    return _interactions(f, "moderate", "interaction.moderate", "info")
