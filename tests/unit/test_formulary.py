"""The shipped formulary: its data is checked for real properties, not just that it parses."""

from __future__ import annotations

import json
import re
from collections import Counter
from importlib import resources

import pytest
from pydantic import ValidationError

from services.review.formulary import DoseRange, Drug, Formulary, load_formulary

PKG = "services.review.formulary"
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
INJECTABLE = {"injection", "powder_for_injection"}


@pytest.fixture(scope="module")
def f() -> Formulary:
    return load_formulary()


def raw(name: str):
    return json.loads(resources.files(PKG).joinpath(name).read_text(encoding="utf-8"))


def group_of(f: Formulary, d: Drug) -> str:
    return f.cls(d.class_id).group


def by_atc(f: Formulary, atc: str) -> list[Drug]:
    return [d for d in f.drugs if d.atc_code == atc]


def one(f: Formulary, atc: str, form: str | None = None) -> str:
    return next(d.code for d in by_atc(f, atc) if form is None or d.form == form)


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


def test_weekly_methotrexate_cannot_pass_as_a_daily_dose(f):
    for d in by_atc(f, "L04AX03"):
        assert d.adult_daily_dose.max < 5, "a 10 mg daily methotrexate order must exceed the range"


# --- regulation --------------------------------------------------------------------------

CONTROLLED = {
    "N02AA01": "narcotic", "N02AB02": "narcotic", "N02AB03": "narcotic", "N02AA05": "narcotic",
    "R05DA04": "narcotic", "N05CD05": "psychotropic_1", "N06BA04": "psychotropic_1",
    "N06BA07": "psychotropic_1", "N02AX02": "psychotropic_2", "N05BA01": "psychotropic_2",
    "N05BA12": "psychotropic_2", "N05CD04": "psychotropic_2", "N05CF02": "psychotropic_2",
    "N03AA02": "psychotropic_2", "N02AJ17": "psychotropic_2", "R01AA03": "precursor",
    "R01BA52": "precursor", "L01XX27": "toxic", "M03AX01": "toxic",
}


@pytest.mark.parametrize(("atc", "status"), sorted(CONTROLLED.items()))
def test_catalogue_status_of_controlled_substances(f, atc, status):
    products = by_atc(f, atc)
    assert products, atc
    assert {d.controlled for d in products} == {status}


def test_controlled_drugs_are_banned_online_and_kept_off_the_village_formulary(f):
    for d in f.drugs:
        if d.controlled in ("narcotic", "psychotropic_1"):
            assert d.online_sale_prohibited and not d.village_clinic, d.code
        if d.controlled:  # 药品管理法第六十一条: every specially managed drug
            assert d.online_sale_prohibited and not d.village_clinic, d.code


# 药品网络销售禁止清单（第一版）二(四): generic names, single-ingredient products.
BANNED_GENERICS = ["地高辛", "胺碘酮", "普罗帕酮", "哌唑嗪", "氨茶碱", "苯妥英钠", "卡马西平", "拉莫三嗪",
                   "达比加群酯", "华法林", "替格瑞洛", "西洛他唑", "碳酸锂", "秋水仙碱", "头孢地尼",
                   "头孢泊肟酯", "伏立康唑", "伊曲康唑", "利奈唑胺"]


def test_online_sale_prohibition_list_is_applied(f):
    for generic in BANNED_GENERICS:
        hits = [d for d in f.drugs if generic in d.name_zh]
        assert hits, generic
        assert all(d.online_sale_prohibited for d in hits), generic
    assert all(d.online_sale_prohibited for d in f.drugs if d.name_zh.startswith("雌二醇"))
    for d in f.drugs:
        if d.form in INJECTABLE:  # injections are banned, antidiabetics excepted
            assert d.online_sale_prohibited == (group_of(f, d) != "antidiabetic"), d.code
    topical_fusidic = [d for d in f.drugs if "夫西地酸" in d.name_zh]
    assert topical_fusidic and not any(d.online_sale_prohibited for d in topical_fusidic)


def test_village_formulary_is_oral_or_topical_save_emergency_adrenaline(f):
    village = [d for d in f.drugs if d.village_clinic]
    assert len(village) >= 80
    for d in village:
        if d.form in INJECTABLE:
            assert d.class_id == "sympathomimetic", d.code


def test_cold_chain_for_insulins_and_glp1(f):
    for d in f.drugs:
        if d.class_id.startswith("insulin_") or d.class_id == "glp1_receptor_agonist":
            assert d.cold_chain, d.code


@pytest.mark.parametrize("class_id", ["statin", "ace_inhibitor", "arb", "arni", "vitamin_k_antagonist"])
def test_pregnancy_contraindications_by_class(f, class_id):
    assert all(d.pregnancy == "contraindicated" for d in f.drugs_in_class(class_id))


def test_fluoroquinolones_are_adult_only(f):
    assert all(d.population == "adult_only" for d in f.drugs_in_class("fluoroquinolone"))


# --- coverage ----------------------------------------------------------------------------

REQUIRED_CLASSES = [
    "statin", "sulfonylurea", "alpha_glucosidase_inhibitor", "biguanide", "insulin_basal",
    "insulin_prandial", "insulin_premixed", "ace_inhibitor", "arb", "ccb_dihydropyridine",
    "beta_blocker", "thiazide_diuretic", "loop_diuretic", "potassium_sparing_diuretic", "ppi",
    "h2_blocker", "penicillin", "cephalosporin", "macrolide", "fluoroquinolone", "paracetamol",
    "nsaid", "opioid_analgesic", "benzodiazepine", "cns_stimulant", "alpha1_blocker",
    "five_alpha_reductase_inhibitor", "estrogen", "progestogen", "hormonal_contraceptive",
    "thyroid_hormone", "systemic_corticosteroid", "vitamin_k_antagonist", "factor_xa_inhibitor",
    "p2y12_inhibitor", "antiplatelet_aspirin", "saba", "ics_laba", "lama", "ssri", "snri",
    "antiepileptic", "xanthine_oxidase_inhibitor", "colchicine", "antihistamine_h1",
    "topical_antifungal", "topical_corticosteroid", "ophthalmic_antiinfective", "vitamin", "iron",
    "tcm_exterior_wind_heat", "tcm_heat_clearing", "tcm_blood_activating", "tcm_yin_tonic",
    "tcm_resuscitation", "tcm_decoction_piece",
]


@pytest.mark.parametrize("class_id", REQUIRED_CLASSES)
def test_each_required_group_has_a_drug(f, class_id):
    assert f.drugs_in_class(class_id), class_id


REQUIRED_SUBSTANCES = ["A10BB09", "A10BB12", "A10BB07", "A10BF01", "A10BF03", "A10BA02", "A10AB01",
                       "A10AE04", "A10AB05", "A10AE05", "A10AD05", "J01CA04", "J01CR02", "J01DC02",
                       "J01DD08", "J01FA10", "J01MA12", "G04CA02", "G04CB01", "G03CA03", "G03DA04",
                       "G03AD01", "G03DA02", "H03AA01", "H02AB07", "N02AA01", "N02AB02", "N02AB03",
                       "N02AA05", "R05DA04", "N02AX02", "N05BA01", "N05BA12", "N05CD04", "N05CD05",
                       "N06BA04"]


def test_required_substances_are_present(f):
    assert [a for a in REQUIRED_SUBSTANCES if not by_atc(f, a)] == []


TCM_REQUIRED = ["连花清瘟胶囊", "板蓝根颗粒", "复方丹参滴丸", "藿香正气水", "六味地黄丸（浓缩丸）", "感冒清热颗粒",
                "银翘解毒片", "安宫牛黄丸", "速效救心丸", "黄芪", "当归", "甘草", "党参", "枸杞子", "金银花"]


def test_named_chinese_medicines_are_present(f):
    names = {d.name_zh for d in f.drugs}
    assert [n for n in TCM_REQUIRED if n not in names] == []


def test_sex_specific_drugs(f):
    for atc in ("G04CA02", "G04CB01", "G04CB02", "L02BB04"):
        assert {d.sex for d in by_atc(f, atc)} == {"M"}, atc
    for atc in ("G03CA03", "G03DA04", "G03AD01", "G03DA02", "G03DB01"):
        assert {d.sex for d in by_atc(f, atc)} == {"F"}, atc


def test_paediatric_cold_remedies_are_child_only(f):
    kids = [d for d in f.drugs if d.population == "child_only"]
    assert any(d.class_id == "paracetamol" and "children_only" in d.insurance.restrictions for d in kids)
    assert all(d.population == "child_only" for d in f.drugs if d.name_zh == "布洛芬混悬液")
    assert all(d.population == "child_only" for d in f.drugs if d.name_zh.startswith("小儿"))


def test_at_least_15_dual_channel_drugs(f):
    dual = [d for d in f.drugs if d.dual_channel]
    assert len({d.atc_code for d in dual}) >= 15
    assert any(d.cold_chain for d in dual)


# --- loader ------------------------------------------------------------------------------

def test_loader_is_cached_frozen_and_looks_things_up(f):
    assert load_formulary() is f
    d = f.drug("C08CA01-TAB-5MG")
    assert d is not None and d.class_id == "ccb_dihydropyridine" and f.cls(d.class_id).duplicate_therapy
    assert f.drug("NOPE") is None and f.cls("nope") is None
    with pytest.raises(ValidationError):
        d.village_clinic = False
    assert f.version == raw("manifest.json")["version"]


def test_formulary_rejects_dangling_references(f):
    bad = f.interactions[0].model_copy(update={"b": "no_such_class"})
    with pytest.raises(ValidationError):
        Formulary(version="x", effective_date="x", classes=f.classes, drugs=f.drugs,
                  interactions=(*f.interactions, bad))
