"""The shipped formulary's regulatory facts and coverage: controlled drugs, online sale, groups."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.review.formulary import Formulary, load_formulary
from tests.unit.formulary_support import INJECTABLE, by_atc, f, group_of, raw

__all__ = ["f"]  # the module-scoped fixture, shared with test_formulary.py


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
