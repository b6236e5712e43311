"""The rules added in pack 2026.12.1 for combinations, the patient and insurance: a prescription
that fires each and one that does not (helpers in test_review_rules_clinical.py)."""

from __future__ import annotations

import pytest

from services.review import rules
from services.review.formulary import Insurance
from services.review.rules import combination, insurance, patient
from tests.unit.test_review_rules_clinical import (
    AMLODIPINE,
    AMOX_GRANULES,
    AMOXICILLIN,
    CLINIC,
    ENALAPRIL,
    METFORMIN,
    F,
    P,
    WithDrug,
    item,
    rx,
)
from tests.unit.test_review_rules_clinical import CASES as CLINICAL
from tests.unit.test_review_rules_clinical import test_rule as check_case

INPATIENT = WithDrug(AMLODIPINE, insurance=Insurance(category="乙", restrictions=("inpatient_only",),
                                                     restriction_note_zh="限住院患者"))

# (rule, prescription, prescribing organisation's kind, formulary, rule ids expected)
CASES = [
    P(combination.duplicate_therapy, rx(item(AMLODIPINE), item("C08CA05-SRT-20MG", "20")), CLINIC, F,
      ["therapy.duplicate"], id="two-dihydropyridines"),
    P(combination.duplicate_therapy, rx(item(AMLODIPINE), item(AMLODIPINE)), CLINIC, F, ["therapy.duplicate"],
      id="same-drug-twice"),
    P(combination.duplicate_therapy, rx(item(AMLODIPINE), item(ENALAPRIL, "10")), CLINIC, F, [], id="ccb+acei"),
    P(combination.interaction_major, rx(item(ENALAPRIL, "10"), item("C03DA01-TAB-20MG", "20")), CLINIC, F,
      ["interaction.major"], id="acei+spironolactone"),
    P(combination.interaction_major, rx(item(AMLODIPINE), item(ENALAPRIL, "10")), CLINIC, F, [], id="no-major"),
    P(combination.interaction_moderate, rx(item("J01MA12-TAB-500MG", "500"), item("A02AB01-TAB-300MG", "0.6", "tid")),
      CLINIC, F, ["interaction.moderate"], id="levofloxacin+antacid"),
    P(combination.interaction_moderate, rx(item(AMLODIPINE), item(ENALAPRIL, "10")), CLINIC, F, [], id="no-moderate"),
    P(patient.sex, rx(item("G04CB01-TAB-5MG"), sex="F"), CLINIC, F, ["patient.sex"], id="finasteride-woman"),
    P(patient.sex, rx(item("G04CB01-TAB-5MG"), sex="M"), CLINIC, F, [], id="finasteride-man"),
    P(patient.age_limits, rx(item("N02BE01-DRP-100MGML", "150", "q6h")), CLINIC, F, ["patient.age"],
      id="child-only-drops-adult"),
    P(patient.age_limits, rx(item("J01MA12-TAB-500MG", "500"), age_years=12), CLINIC, F, ["patient.age"],
      id="fluoroquinolone-child"),
    P(patient.age_limits, rx(item(METFORMIN, "500", "bid"), age_years=8), CLINIC, F, ["patient.age"],
      id="metformin-under-10"),
    P(patient.age_limits, rx(item(AMLODIPINE), age_years=0, age_months=6), CLINIC, F, ["patient.age"],
      id="no-paediatric-dose-infant"),
    P(patient.age_limits, rx(item(METFORMIN, "500", "bid"), age_years=12), CLINIC, F, [], id="metformin-12"),
    P(patient.pregnancy_contraindicated, rx(item("C10AA05-TAB-20MG", "20"), sex="F", pregnant=True), CLINIC, F,
      ["pregnancy.contraindicated"], id="statin-pregnant"),
    P(patient.pregnancy_contraindicated, rx(item("C10AA05-TAB-20MG", "20"), sex="F"), CLINIC, F, [], id="statin"),
    P(patient.pregnancy_caution, rx(sex="F", pregnant=True), CLINIC, F, ["pregnancy.caution"], id="ccb-pregnant"),
    P(patient.pregnancy_caution, rx(item(AMOXICILLIN, "500", "tid"), sex="F", pregnant=True), CLINIC, F, [],
      id="amoxicillin-pregnant"),
    P(patient.allergy, rx(item(AMOXICILLIN, "500", "tid"), allergies=("penicillin",)), CLINIC, F,
      ["patient.allergy"], id="class-id"),
    P(patient.allergy, rx(item(AMOXICILLIN, "500", "tid"), allergies=("J01C",)), CLINIC, F, ["patient.allergy"],
      id="atc-prefix"),
    P(patient.allergy, rx(item(AMOXICILLIN, "500", "tid"), allergies=(AMOX_GRANULES,)), CLINIC, F,
      ["patient.allergy"], id="other-product-same-substance"),
    P(patient.allergy, rx(item(AMOXICILLIN, "500", "tid"), allergies=("cephalosporin", "")), CLINIC, F, [],
      id="other-class"),
    P(insurance.self_pay, rx(item("N02BE51-GRA-PCM125", "1", "tid"), age_years=30), CLINIC, F,
      ["insurance.self_pay"], id="children-only-adult"),
    P(insurance.self_pay, rx(item("N02BE51-GRA-PCM125", "1", "tid"), age_years=5), CLINIC, F, [], id="child-paid"),
    P(insurance.self_pay, rx(), CLINIC, INPATIENT, ["insurance.self_pay"], id="inpatient-only-outpatient"),
    P(insurance.self_pay, rx(item("TCM-DP-HUANGQI", "15")), CLINIC, F, ["insurance.self_pay"], id="herb-alone"),
    P(insurance.self_pay, rx(item("TCM-DP-HUANGQI", "15"), item("TCM-DP-DANGGUI", "10")), CLINIC, F, [],
      id="herb-in-a-formula"),
    P(insurance.self_pay, rx(item("N05CD05-TAB-0.25MG", "0.25")), CLINIC, F, ["insurance.self_pay"], id="not-listed"),
    P(insurance.documentation, rx(item("A10BH01-TAB-100MG", "100"), dx=("E11",)), CLINIC, F,
      ["insurance.documentation"], id="second-line-sitagliptin"),
    P(insurance.documentation, rx(), CLINIC, F, [], id="no-restriction"),
]


@pytest.mark.parametrize(("check", "prescription", "kind", "formulary", "expected"), CASES)
def test_rule(check, prescription, kind, formulary, expected):
    check_case(check, prescription, kind, formulary, expected)


def test_every_rule_of_the_current_pack_has_a_case_that_fires_and_one_that_does_not():
    fires = {c.values[0] for c in [*CLINICAL, *CASES] if c.values[-1]}
    quiet = {c.values[0] for c in [*CLINICAL, *CASES] if not c.values[-1]}
    new = rules.pack().rules[len(rules.pack("2026.11.1").rules):]
    assert [r.__name__ for r in new if r not in fires or r not in quiet] == []
