"""The shipped formulary: its data is checked for real properties, not just that it parses."""

from __future__ import annotations

import re
from collections import Counter
from importlib import resources

import pytest
from pydantic import ValidationError

from services.review.formulary import DoseRange
from tests.unit.formulary_support import PKG, f, group_of, one, raw

__all__ = ["f"]  # the module-scoped fixture, shared with test_formulary_coverage.py

ATC_SUBSTANCE = re.compile(r"^[A-Z]\d{2}[A-Z]{2}\d{2}$")  # level 5 only: every product is one substance
ICD10 = re.compile(r"^[A-Z]\d{2}(\.\d{1,2})?$")
CODE = re.compile(r"^(?:[A-Z]\d{2}[A-Z]{2}\d{2}|TCM)-[A-Z]{2,4}-[A-Z0-9.]+$")
FORMS = {
    "tablet", "capsule", "sustained_release_tablet", "sustained_release_capsule",
    "controlled_release_tablet", "enteric_coated_tablet", "enteric_coated_capsule",
    "dispersible_tablet", "chewable_tablet", "effervescent_tablet", "soft_capsule", "injection",
    "powder_for_injection", "granules", "dry_suspension", "oral_solution", "oral_liquid", "syrup",
    "suspension", "oral_drops", "inhaler", "dry_powder_inhaler", "inhalation_solution",
    "inhalation_suspension", "cream", "ointment", "gel", "eye_drops", "eye_ointment", "eye_gel",
    "nasal_spray", "nasal_drops", "patch", "cataplasm", "pill", "dripping_pill", "tincture", "powder",
    "decoction_piece", "rectal_solution", "paste",
}
UNITS = {"mg", "g", "mcg", "IU", "U", "ml", "tablet", "capsule", "bag", "pill", "puff", "drop",
         "application", "patch", "spray"}
ROUTES_BY_FORM = {
    "injection": {"iv", "im", "sc"}, "powder_for_injection": {"iv", "im", "sc"},
    "eye_drops": {"ophthalmic"}, "eye_ointment": {"ophthalmic"}, "eye_gel": {"ophthalmic"},
    "inhaler": {"inhal"}, "dry_powder_inhaler": {"inhal"}, "inhalation_solution": {"inhal"},
    "inhalation_suspension": {"inhal"}, "nasal_spray": {"nasal"}, "nasal_drops": {"nasal"},
    "patch": {"transdermal", "topical"}, "decoction_piece": {"po"}, "rectal_solution": {"rectal"},
}
RESTRICTIONS = {"children_only", "inpatient_only", "not_payable_alone", "second_line", "specific_indication"}


# --- shape -------------------------------------------------------------------------------

def test_manifest_names_every_drug_file_and_nothing_else():
    manifest = raw("manifest.json")
    shipped = {p.name for p in resources.files(PKG).iterdir() if re.fullmatch(r"drugs_.*\.json", p.name)}
    assert set(manifest["drugs"]) == shipped
    assert re.fullmatch(r"\d{4}\.\d+", manifest["version"])


def test_at_least_300_drugs_and_no_code_twice_across_files():
    codes = [d["code"] for name in raw("manifest.json")["drugs"] for d in raw(name)]
    assert len(codes) >= 300
    assert [c for c, n in Counter(codes).items() if n > 1] == []


def test_codes_are_atc_form_strength_or_tcm(f):
    for d in f.drugs:
        assert CODE.match(d.code), d.code
        if d.atc_code:
            assert d.code.startswith(d.atc_code + "-"), d.code
        else:
            assert d.code.startswith("TCM-"), d.code


def test_western_drugs_have_a_who_substance_atc_code_and_tcm_have_a_category(f):
    for d in f.drugs:
        tcm = group_of(f, d).startswith("tcm")
        if tcm:
            assert d.atc_code is None and d.tcm_category, d.code
        else:
            assert d.atc_code and ATC_SUBSTANCE.match(d.atc_code) and d.tcm_category is None, d.code


def test_forms_units_and_routes_are_known_and_agree(f):
    for d in f.drugs:
        assert d.form in FORMS, d.code
        assert d.dose_unit in UNITS, d.code
        if d.form in ROUTES_BY_FORM:
            assert d.route in ROUTES_BY_FORM[d.form], d.code
    for d in f.drugs:
        if d.form == "decoction_piece":
            assert d.dose_unit == "g" and d.class_id == "tcm_decoction_piece", d.code


# --- classes and interactions ------------------------------------------------------------

def test_every_drug_class_exists_is_used_and_matches_its_atc_prefix(f):
    ids = [c.id for c in f.classes]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", i) for i in ids)
    for d in f.drugs:
        c = f.cls(d.class_id)
        assert c is not None, d.code
        if c.atc_prefix:
            assert d.atc_code and d.atc_code.startswith(c.atc_prefix), d.code
    assert {d.class_id for d in f.drugs} == set(ids)


def test_every_interaction_names_drugs_classes_or_substances_that_exist(f):
    codes = {d.code for d in f.drugs}
    classes = {c.id for c in f.classes}
    atcs = {d.atc_code for d in f.drugs if d.atc_code}
    pairs = set()
    for i in f.interactions:
        for side in (i.a, i.b):
            assert side in codes or side in classes or (ATC_SUBSTANCE.match(side) and side in atcs), side
        assert i.a != i.b
        assert i.effect_zh and i.effect_en
        pair = frozenset((i.a, i.b))
        assert pair not in pairs, pair
        pairs.add(pair)


REQUIRED_INTERACTIONS = [  # (atc a, atc b, severity)
    ("C10AA01", "J01FA09", "major"), ("C10AA01", "J01FA01", "major"), ("C10AA02", "J01FA09", "major"),
    ("C10AA05", "C10AB04", "major"), ("B01AA03", "M01AE01", "major"), ("B01AA03", "B01AC06", "major"),
    ("C09AA02", "C03DA01", "major"), ("C09CA01", "C03DA01", "major"), ("C09AA02", "C09CA03", "major"),
    ("B01AC04", "A02BC01", "major"), ("A10BA02", "V08AB02", "major"), ("N02AA01", "N05BA01", "major"),
    ("N02AX02", "N05BA12", "major"), ("G04BE03", "C01DA02", "major"), ("J01MA12", "A02AB01", "moderate"),
    ("J01MA12", "A12AA04", "moderate"), ("L04AX03", "M01AE01", "major"), ("C01AA05", "C01BD01", "major"),
    ("C09AA02", "C09DX04", "major"), ("M04AC01", "J01FA09", "major"),
]


@pytest.mark.parametrize(("a", "b", "severity"), REQUIRED_INTERACTIONS)
def test_well_known_interactions_are_found_both_ways(f, a, b, severity):
    ca, cb = one(f, a), one(f, b)
    found = f.interactions_between(ca, cb)
    assert severity in {i.severity for i in found}, (ca, cb)
    assert found == f.interactions_between(cb, ca)


def test_unrelated_drugs_and_unknown_codes_have_no_interaction(f):
    assert f.interactions_between(one(f, "C08CA01"), one(f, "A10BA02")) == []
    assert f.interactions_between("NOPE", one(f, "C08CA01")) == []


# --- doses, indications, insurance -------------------------------------------------------

def test_dose_ranges_are_positive_ordered_and_present(f):
    for d in f.drugs:
        assert d.adult_daily_dose or d.child_daily_dose, d.code
        for r in (d.adult_daily_dose, d.child_daily_dose):
            if r:
                assert 0 < r.min <= r.max, d.code
        if d.adult_daily_dose:
            assert not d.adult_daily_dose.per_kg, d.code
    with pytest.raises(ValidationError):
        DoseRange(min=5, max=1)


def test_population_sex_and_age_are_consistent(f):
    for d in f.drugs:
        if d.population == "child_only":
            assert d.child_daily_dose and d.adult_daily_dose is None, d.code
        if d.population == "adult_only":
            assert d.child_daily_dose is None, d.code
        if d.min_age_years is not None:
            assert 0 <= d.min_age_years <= 18, d.code
        male_only = any(re.match(r"N4[0-9]|N5[01]", i) for i in d.indications)
        female_only = any(re.match(r"O|N[7-9]", i) for i in d.indications)
        assert not (d.sex == "M" and female_only) and not (d.sex == "F" and male_only), d.code


def test_indications_are_icd10_prefixes(f):
    for d in f.drugs:
        assert d.indications, d.code
        assert all(ICD10.match(i) for i in d.indications), d.code


def test_insurance_category_and_restrictions(f):
    for d in f.drugs:
        ins = d.insurance
        assert ins.category in {"甲", "乙", "丙"}, d.code
        assert set(ins.restrictions) <= RESTRICTIONS, d.code
        assert bool(ins.restrictions) == bool(ins.restriction_note_zh), d.code
        if "children_only" in ins.restrictions:
            assert d.child_daily_dose is not None, d.code
        if d.dual_channel:  # nationally negotiated drugs are listed as 乙类
            assert ins.category == "乙", d.code


