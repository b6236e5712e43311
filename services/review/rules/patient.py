"""Contraindications by sex, age, pregnancy and allergy (医疗机构处方审核规范 第十五条（七）).

Breastfeeding is not checked: the formulary (2025.1) carries no lactation data yet.
"""

from __future__ import annotations

from typing import Any

from events.schemas import Finding
from services.review.rules.base import ADULT, Facts, age, exact, finding, known, line, num

CLAUSE = "医疗机构处方审核规范 第十五条（七）"
SEX_ZH = {"M": "男性", "F": "女性"}
SEX_EN = {"M": "male", "F": "female"}


def sex(f: Facts) -> list[Finding]:
    """性别禁忌证: a drug labelled for one sex is not given to the other."""
    who = f.issued.patient.sex
    return [finding("patient.sex", CLAUSE, "block",
                    f"{line(i, item)[0]}仅用于{SEX_ZH[drug.sex]}，患者为{SEX_ZH[who]}",
                    f"{line(i, item)[1]} is for {SEX_EN[drug.sex]} patients only; the patient is {SEX_EN[who]}", i)
            for i, item, drug in known(f) if drug.sex and drug.sex != who]


def _age_problem(drug: Any, years: Any) -> tuple[str, str] | None:
    if drug.population == "child_only" and years >= ADULT:
        return "仅限儿童使用", "is labelled for children only"
    if drug.population == "adult_only" and years < ADULT:
        return "仅限成人使用", "is labelled for adults only"
    if drug.min_age_years is not None and years < exact(drug.min_age_years):
        n = num(drug.min_age_years)
        return f"{n}岁以下不宜使用", f"is not for patients under {n} years"
    if years < ADULT and drug.child_daily_dose is None and drug.min_age_years is None:
        # SOURCES.md: no paediatric dose on the label means not established for children.
        return "说明书未确立儿童用法用量", "has no established paediatric dose"
    return None


def age_limits(f: Facts) -> list[Finding]:
    """儿童、老年人用药禁忌: the label's population and minimum age."""
    years, out = age(f), []
    for i, item, drug in known(f):
        problem = _age_problem(drug, years)
        if problem:
            zh, en = line(i, item)
            out.append(finding("patient.age", CLAUSE, "pharmacist", f"{zh}{problem[0]}（患者{num(years)}岁）",
                               f"{en} {problem[1]} (patient aged {num(years)})", i))
    return out


def pregnancy_contraindicated(f: Facts) -> list[Finding]:
    """孕妇禁用 (label says 禁用)."""
    if not f.issued.patient.pregnant:
        return []
    return [finding("pregnancy.contraindicated", CLAUSE, "block", f"{line(i, item)[0]}孕妇禁用",
                    f"{line(i, item)[1]} is contraindicated in pregnancy", i)
            for i, item, drug in known(f) if drug.pregnancy == "contraindicated"]


def pregnancy_caution(f: Facts) -> list[Finding]:
    """孕妇慎用 (label says 慎用): a pharmacist weighs it."""
    if not f.issued.patient.pregnant:
        return []
    return [finding("pregnancy.caution", CLAUSE, "pharmacist", f"{line(i, item)[0]}孕妇慎用",
                    f"{line(i, item)[1]} needs caution in pregnancy", i)
            for i, item, drug in known(f) if drug.pregnancy == "caution"]


def _allergy_match(f: Facts, drug: Any, allergy: str) -> bool:
    """An allergy names a drug code, a class id or an ATC prefix; a code or class widens to its
    substance or class ATC prefix, so every product of that substance or class matches."""
    if allergy in (drug.code, drug.class_id):
        return True
    named_drug, named_class = f.formulary.drug(allergy), f.formulary.cls(allergy)
    prefixes = {allergy, named_drug.atc_code if named_drug else None, named_class.atc_prefix if named_class else None}
    return bool(drug.atc_code) and any(p and drug.atc_code.startswith(p) for p in prefixes)


def allergy(f: Facts) -> list[Finding]:
    """药物过敏史禁忌证: the patient's recorded allergies."""
    out = []
    for i, item, drug in known(f):
        hits = [a for a in f.issued.patient.allergies if _allergy_match(f, drug, a)]
        if hits:
            zh, en = line(i, item)
            out.append(finding("patient.allergy", CLAUSE, "block", f"{zh}与患者过敏史（{'、'.join(hits)}）相符",
                               f"{en} matches the patient's allergy to {', '.join(hits)}", i))
    return out
