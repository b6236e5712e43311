"""The rules added in pack 2026.12.1, table-driven over the shipped formulary: for every rule a
prescription that fires it and one that does not. This file: prescriber, channel, supply, diagnosis
and dose; test_review_rules_patient.py: combinations, the patient, insurance."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from events.schemas import Channel, Diagnosis, Item, PatientFacts
from services.review import rules
from services.review.formulary import load_formulary
from services.review.rules import channel, dose, indication, prescriber, supply
from tests.factories import T0, issued

F = load_formulary()
ISSUED_AT = T0 + timedelta(minutes=1)
DOCTOR = SimpleNamespace(actor_id="dr-wang", org_id="clinic-qiaotou")
AMLODIPINE, ENALAPRIL, METFORMIN = "C08CA01-TAB-5MG", "C09AA02-TAB-10MG", "A10BA02-TAB-500MG"
AMOXICILLIN, AMOX_GRANULES, TELMISARTAN = "J01CA04-CAP-250MG", "J01CA04-GRA-125MG", "C09CA07-TAB-40MG"


def item(code: str, dose: str = "5", freq: str = "qd", days: int = 7, unit: str | None = None,
         route: str | None = None) -> Item:
    """One line of the given drug, in its formulary unit and route unless told otherwise."""
    drug = F.drug(code)
    return Item(drug_code=code, drug_name=drug.name_zh, dose=Decimal(dose), dose_unit=unit or drug.dose_unit,
                frequency=freq, route=route or drug.route, days=days, quantity=Decimal(1), quantity_unit="box")


def rx(*items: Item, dx: tuple[str, ...] = ("I10",), channel: Channel = Channel.HOSPITAL, **patient: Any):
    """The factories' hypertension prescription with other items, diagnoses, channel or patient."""
    pharmacy = {Channel.HOSPITAL: "pharm-county", Channel.RETAIL: "pharm-renhe"}.get(channel)
    base = issued(DOCTOR, at=T0, channel=channel, pharmacy_id=pharmacy)
    who = PatientFacts(**{**base.patient.model_dump(), "allergies": (), **patient})
    return base.model_copy(update={"items": items or base.items, "patient": who,
                                   "diagnoses": tuple(Diagnosis(code=c, name="诊断") for c in dx)})


def flagged(**update: Any):
    return rx().model_copy(update=update)


class WithDrug:
    """The shipped formulary with one drug's facts changed (for facts no shipped drug has)."""

    def __init__(self, code: str, **facts: Any) -> None:
        self.version, self.changed = F.version, F.drug(code).model_copy(update=facts)

    def drug(self, code: str):
        return self.changed if code == self.changed.code else F.drug(code)

    def __getattr__(self, name: str):
        return getattr(F, name)


CLINIC, HOSPITAL = "clinic", "hospital"
P = pytest.param

# (rule, prescription, prescribing organisation's kind, formulary, rule ids expected)
CASES = [
    P(prescriber.village_formulary, rx(item(TELMISARTAN, "40")), CLINIC, F, ["prescriber.village_formulary"],
      id="village-doctor-beyond-village-formulary"),
    P(prescriber.village_formulary, rx(item(TELMISARTAN, "40")), HOSPITAL, F, [], id="hospital-doctor-may"),
    P(prescriber.village_formulary, rx(), CLINIC, F, [], id="village-drug-from-village"),
    P(channel.prohibited_channel, rx(item("N02AA01-TAB-10MG", "10", "q4h"), channel=Channel.RETAIL), CLINIC, F,
      ["channel.prohibited"], id="narcotic-to-retail"),
    P(channel.prohibited_channel, rx(item("C01AA05-TAB-0.25MG", "0.25"), channel=Channel.HOME_DELIVERY), CLINIC, F,
      ["channel.prohibited"], id="online-prohibited-digoxin-home"),
    P(channel.prohibited_channel, rx(item("N02AA01-TAB-10MG", "10", "q4h")), CLINIC, F, [], id="narcotic-hospital"),
    P(channel.prohibited_channel, rx(channel=Channel.ANY_DESIGNATED), CLINIC, F, [], id="amlodipine-designated"),
    P(supply.supply_days, rx(item(AMLODIPINE, days=8)), CLINIC, F, ["supply.days"], id="8-days"),
    P(supply.supply_days, flagged(emergency=True, items=(item(AMLODIPINE, days=4),)), CLINIC, F, ["supply.days"],
      id="4-days-emergency"),
    P(supply.supply_days, flagged(emergency=True, items=(item(AMLODIPINE, days=3),)), CLINIC, F, [], id="3-days-emerg"),
    P(supply.supply_days, flagged(chronic=True, items=(item(AMLODIPINE, days=30),)), CLINIC, F, [], id="chronic-30"),
    P(supply.supply_reason, flagged(chronic=True, items=(item(AMLODIPINE, days=30),)), CLINIC, F, ["supply.reason"],
      id="chronic-30-no-reason"),
    P(supply.supply_reason, flagged(long_term=True, long_supply_reason="高血压稳定期",
                                    items=(item(AMLODIPINE, days=28),)), CLINIC, F, [], id="long-term-with-reason"),
    P(supply.long_term_max, flagged(long_term=True, items=(item(AMLODIPINE).model_copy(update={"days": 90}),)),
      CLINIC, F, ["supply.long_term_max"], id="90-days"),
    P(supply.long_term_max, flagged(long_term=True, items=(item(AMLODIPINE, days=84),)), CLINIC, F, [], id="84-days"),
    P(indication.diagnosis_fit, rx(item(METFORMIN, "500", "bid")), CLINIC, F, ["diagnosis.mismatch"],
      id="metformin-for-hypertension"),
    P(indication.diagnosis_fit, rx(item(METFORMIN, "500", "bid"), dx=("E11.9",)), CLINIC, F, [], id="metformin-E11.9"),
    P(indication.diagnosis_fit, rx(item(AMOXICILLIN, "500", "tid"), dx=("J44",)), CLINIC, F, ["diagnosis.mismatch"],
      id="J44-is-less-specific-than-J44.1"),
    P(dose.dose_unit, rx(item(AMLODIPINE, unit="g")), CLINIC, F, ["dose.unit"], id="grams-for-mg"),
    P(dose.dose_unit, rx(item(AMLODIPINE, unit="MG")), CLINIC, F, [], id="unit-case-insensitive"),
    P(dose.weight_missing, rx(item(AMOXICILLIN, "250", "tid"), age_years=6), CLINIC, F, ["dose.weight_missing"],
      id="per-kg-child-without-weight"),
    P(dose.weight_missing, rx(item(AMOXICILLIN, "250", "tid"), age_years=6, weight_kg=Decimal(20)), CLINIC, F, [],
      id="per-kg-child-with-weight"),
    P(dose.over_max, rx(item(AMLODIPINE, "15")), CLINIC, F, ["dose.over_max"], id="amlodipine-15mg"),
    P(dose.over_max, rx(item(AMLODIPINE, "5", "bid")), CLINIC, F, [], id="amlodipine-5-bid"),
    P(dose.over_max, rx(item(AMLODIPINE, "15", "prn")), CLINIC, F, ["dose.over_max"], id="prn-single-above-daily"),
    P(dose.over_max, rx(item("L04AX03-TAB-2.5MG", "10", "qd"), dx=("M06",)), CLINIC, F, ["dose.over_max"],
      id="daily-methotrexate"),
    P(dose.over_max, rx(item("L04AX03-TAB-2.5MG", "10", "qw"), dx=("M06",)), CLINIC, F, [], id="weekly-mtx"),
    P(dose.over_max, rx(item(AMOXICILLIN, "750", "tid"), age_years=6, weight_kg=Decimal(20)), CLINIC, F,
      ["dose.over_max"], id="child-90mg-per-kg"),
    P(dose.over_max, rx(item(AMOXICILLIN, "1000", "qid"), age_years=15, weight_kg=Decimal(60)), CLINIC, F,
      [], id="child-capped-at-adult-max"),
    P(dose.under_min, rx(item(AMLODIPINE, "1")), CLINIC, F, ["dose.under_min"], id="amlodipine-1mg"),
    P(dose.under_min, rx(item(AMLODIPINE, "1", "prn")), CLINIC, F, [], id="prn-has-no-floor"),
    P(dose.dose_route, rx(item(AMLODIPINE, route="iv")), CLINIC, F, ["dose.route"], id="oral-tablet-iv"),
    P(dose.dose_route, rx(), CLINIC, F, [], id="oral-tablet-po"),
]


@pytest.mark.parametrize(("check", "prescription", "kind", "formulary", "expected"), CASES)
def test_rule(check, prescription, kind, formulary, expected):
    found = check(rules.Facts(prescription, ISSUED_AT, ISSUED_AT + timedelta(minutes=1), formulary, kind))
    assert [f.rule_id for f in found] == expected
    for f in found:
        assert f.clause and f.message_zh and f.message_en and f.item_index is not None
