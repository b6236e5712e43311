"""Insurance payment (国家医保药品目录 限定支付范围): it decides what insurance pays, never what a
doctor may prescribe (DESIGN.md), so every finding here is information: the item is self-paid
or needs documentation, and nothing is blocked.
"""

from __future__ import annotations

from typing import Any

from events.schemas import Finding
from services.review.rules.base import ADULT, Facts, age, finding, known, line

CLAUSE = "国家基本医疗保险、工伤保险和生育保险药品目录（2024年）凡例：限定支付范围"
UNMET_ZH = {"not_listed": "不在医保目录内（丙类）", "children_only": "医保限儿童，患者已成年",
            "inpatient_only": "医保限住院，门诊处方不予支付", "not_payable_alone": "单味使用不予支付"}


def _unmet(f: Facts, drug: Any) -> list[str]:
    """Restrictions this outpatient prescription cannot meet."""
    ins, unmet = drug.insurance, []
    if ins.category == "丙":
        unmet.append("not_listed")
    if "children_only" in ins.restrictions and age(f) >= ADULT:
        unmet.append("children_only")
    if "inpatient_only" in ins.restrictions:
        unmet.append("inpatient_only")  # an e-prescription is outpatient care by definition
    if "not_payable_alone" in ins.restrictions and len(f.issued.items) == 1:
        unmet.append("not_payable_alone")
    return unmet


def self_pay(f: Facts) -> list[Finding]:
    """An unmet restriction makes the item self-paid (自费), named in the finding."""
    out = []
    for i, item, drug in known(f):
        unmet = _unmet(f, drug)
        if unmet:
            why = "；".join(UNMET_ZH[u] for u in unmet)
            out.append(finding("insurance.self_pay", CLAUSE, "info",
                               f"{line(i, item)[0]}{why}，按自费处理",
                               f"{line(i, item)[1]} is self-paid: {', '.join(unmet)}", i))
    return out


def documentation(f: Facts) -> list[Finding]:
    """限特定适应证 / 二线用药: insurance pays only with the indication documented."""
    out = []
    for i, item, drug in known(f):
        needed = [r for r in drug.insurance.restrictions if r in ("specific_indication", "second_line")]
        if needed:
            zh, en = line(i, item)
            out.append(finding("insurance.documentation", CLAUSE, "info",
                               f"{zh}医保限定支付（{drug.insurance.restriction_note_zh}），需病历记录依据",
                               f"{en}: insurance pays only with {', '.join(needed)} documented", i))
    return out
