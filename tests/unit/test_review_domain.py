"""The review's pure decisions: the automatic verdict, approval with overrides, rejection."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from events.lifecycle import Prescription, Status
from events.schemas import Override, PrescriptionApproved, PrescriptionRejected, ReviewFlagged, ReviewPassed
from services.kit.errors import Refused
from services.review import domain, rules
from services.review.formulary import load_formulary
from tests.factories import T0, issued
from tests.unit.test_review_rules import ISSUED_AT, drugs
from tests.unit.test_review_rules_clinical import TELMISARTAN, item

NOW = ISSUED_AT + timedelta(minutes=5)
V = rules.CURRENT
F = load_formulary()
FV = {"rule_pack_version": V, "formulary_version": F.version}


@pytest.fixture
def rx(identities):
    return issued(identities.signer("dr-wang"))


def review(rx, auto_approve=True, now=NOW, kind="clinic", pack=V):
    return domain.decide_review(rx, issued_at=ISSUED_AT, now=now, formulary=F, auto_approve=auto_approve,
                                service_actor="svc-review", clinic_kind=kind, pack=pack)


def state(rx, status=Status.FLAGGED) -> Prescription:
    verdict = review(rx, auto_approve=False, pack="2026.11.1")[0]
    return Prescription(str(rx.prescription_id), 2, status, issued=rx, issued_at=ISSUED_AT, review=verdict)


def approve(st, overrides=(), role="pharmacist", now=NOW):
    return domain.decide_approve(st, reviewer_id="rph-zhao", role=role, overrides=overrides, note=None, now=now)


def test_clean_prescription_passes_and_is_approved_by_the_service(rx):
    pid = rx.prescription_id
    assert review(rx) == [
        ReviewPassed(prescription_id=pid, **FV),
        PrescriptionApproved(prescription_id=pid, reviewer_id="svc-review", automatic=True, rule_pack_version=V),
    ]
    assert review(rx, auto_approve=False) == [ReviewPassed(prescription_id=pid, **FV)]


def test_too_many_drugs_is_flagged(rx):
    [flagged] = review(drugs(rx, 6), pack="2026.11.1")
    assert isinstance(flagged, ReviewFlagged) and [f.rule_id for f in flagged.findings] == ["format.max_drugs"]
    assert (flagged.rule_pack_version, flagged.formulary_version, flagged.needs_upper_review) == \
        ("2026.11.1", F.version, False)


def test_a_village_doctor_beyond_the_village_formulary_needs_upper_review(rx):
    beyond = rx.model_copy(update={"items": (item(TELMISARTAN, "40"),)})
    [flagged] = review(beyond)
    assert [(f.rule_id, f.severity) for f in flagged.findings] == [("prescriber.village_formulary", "pharmacist")]
    assert flagged.needs_upper_review
    [passed, _] = review(beyond, kind="hospital")
    assert isinstance(passed, ReviewPassed)


def test_info_findings_do_not_flag(rx, monkeypatch):
    note = rules.finding("info.demo", "示例条款", "info", "提示", "a hint")
    test_pack = rules.Pack("test", (*rules.pack().rules, lambda f: [note]))
    monkeypatch.setattr(rules, "PACKS", {**rules.PACKS, "test": test_pack})
    passed, approved = review(rx, pack="test")
    assert passed == ReviewPassed(prescription_id=rx.prescription_id, rule_pack_version="test",
                                  formulary_version=F.version, findings=(note,))
    assert approved.automatic and approved.rule_pack_version == "test"


def test_an_unknown_pack_is_a_bug_not_a_verdict(rx):
    with pytest.raises(KeyError, match="2026.11.1"):
        review(rx, pack="1999.1")


def test_approval_needs_an_override_for_every_finding(rx):
    st = state(drugs(rx, 6))
    with pytest.raises(domain.OverridesMissing) as refused:
        approve(st)
    assert refused.value.rule_ids == ["format.max_drugs"] and refused.value.status == 409
    ok = approve(st, [Override(rule_id="format.max_drugs", reason="慢病患者，已与医师确认")])
    # The approval cites the pack that gave the verdict, not the pack current today.
    assert ok.overrides[0].reason == "慢病患者，已与医师确认" and not ok.automatic
    assert ok.rule_pack_version == "2026.11.1"


def test_override_of_a_rule_that_did_not_fire_is_refused(rx):
    with pytest.raises(Refused, match="validity.days") as refused:
        approve(state(rx, Status.PASSED), [Override(rule_id="validity.days", reason="x")])
    assert refused.value.reason == "not_a_finding"


def test_passed_prescription_approves_without_overrides(rx):
    assert approve(state(rx, Status.PASSED)).reviewer_id == "rph-zhao"


@pytest.mark.parametrize("status, reason", [(Status.ISSUED, "not_reviewed"), (Status.APPROVED, "already_approved"),
                                            (Status.CANCELLED, "already_cancelled")])
def test_no_decision_outside_passed_or_flagged(rx, status, reason):
    st = state(rx, status)
    for attempt in (lambda: approve(st), lambda: domain.decide_reject(st, reviewer_id="rph-zhao", reason="x",
                                                                       rule_ids=())):
        with pytest.raises(Refused) as refused:
            attempt()
        assert refused.value.reason == reason


def test_approving_after_valid_until_is_refused(rx):
    with pytest.raises(Refused) as refused:
        approve(state(rx, Status.PASSED), now=rx.valid_until)
    assert refused.value.reason == "expired"


def test_upper_review_needs_an_upper_doctor_to_approve_but_anyone_may_reject(rx):
    st = state(drugs(rx, 6))
    st = replace(st, review=st.review.model_copy(update={"needs_upper_review": True}))
    overrides = [Override(rule_id="format.max_drugs", reason="上级医师确认")]
    with pytest.raises(Refused, match="upper") as refused:
        approve(st, overrides)
    assert refused.value.reason == "needs_upper_review"
    assert approve(st, overrides, role="upper_doctor").overrides == tuple(overrides)
    assert domain.decide_reject(st, reviewer_id="rph-zhao", reason="超出村卫生室目录", rule_ids=()).reviewer_id


def test_reject_names_only_findings_that_exist(rx):
    st = state(drugs(rx, 6))
    assert domain.decide_reject(st, reviewer_id="rph-zhao", reason="药品过多", rule_ids=["format.max_drugs"]) == \
        PrescriptionRejected(prescription_id=rx.prescription_id, reviewer_id="rph-zhao", reason="药品过多",
                             rule_ids=("format.max_drugs",), rule_pack_version="2026.11.1")
    with pytest.raises(Refused, match="nope"):
        domain.decide_reject(st, reviewer_id="rph-zhao", reason="x", rule_ids=["nope"])


def test_an_expired_prescription_is_flagged_on_arrival(rx):
    [flagged] = review(rx, now=T0 + timedelta(days=2))
    assert [f.rule_id for f in flagged.findings] == ["validity.expired"]
