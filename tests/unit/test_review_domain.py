"""The review's pure decisions: the automatic verdict, approval with overrides, rejection."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from events.lifecycle import Prescription, Status
from events.schemas import Override, PrescriptionApproved, PrescriptionRejected, ReviewFlagged, ReviewPassed
from services.kit.errors import Refused
from services.review import domain, rules
from tests.factories import T0, issued
from tests.unit.test_review_rules import ISSUED_AT, KNOWN, drugs

NOW = ISSUED_AT + timedelta(minutes=5)
V = rules.RULE_PACK_VERSION


@pytest.fixture
def rx(identities):
    return issued(identities.signer("dr-wang"))


def review(rx, auto_approve=True, now=NOW):
    return domain.decide_review(rx, issued_at=ISSUED_AT, now=now, formulary=KNOWN, auto_approve=auto_approve,
                                service_actor="svc-review")


def state(rx, status=Status.FLAGGED) -> Prescription:
    verdict = review(rx, auto_approve=False)[0]
    return Prescription(str(rx.prescription_id), 2, status, issued=rx, issued_at=ISSUED_AT, review=verdict)


def approve(st, overrides=(), role="pharmacist", now=NOW):
    return domain.decide_approve(st, reviewer_id="rph-zhao", role=role, overrides=overrides, note=None, now=now)


def test_clean_prescription_passes_and_is_approved_by_the_service(rx):
    pid = rx.prescription_id
    assert review(rx) == [
        ReviewPassed(prescription_id=pid, rule_pack_version=V),
        PrescriptionApproved(prescription_id=pid, reviewer_id="svc-review", automatic=True, rule_pack_version=V),
    ]
    assert review(rx, auto_approve=False) == [ReviewPassed(prescription_id=pid, rule_pack_version=V)]


def test_too_many_drugs_is_flagged(rx):
    [flagged] = review(drugs(rx, 6))
    assert isinstance(flagged, ReviewFlagged) and [f.rule_id for f in flagged.findings] == ["format.max_drugs"]


def test_info_findings_do_not_flag(rx, monkeypatch):
    note = rules.finding("info.demo", "示例条款", "info", "提示", "a hint")
    monkeypatch.setattr(rules, "RULES", [*rules.RULES, lambda f: [note]])
    passed, approved = review(rx)
    assert passed == ReviewPassed(prescription_id=rx.prescription_id, rule_pack_version=V, findings=(note,))
    assert approved.automatic


def test_approval_needs_an_override_for_every_finding(rx):
    st = state(drugs(rx, 6))
    with pytest.raises(domain.OverridesMissing) as refused:
        approve(st)
    assert refused.value.rule_ids == ["format.max_drugs"] and refused.value.status == 409
    ok = approve(st, [Override(rule_id="format.max_drugs", reason="慢病患者，已与医师确认")])
    assert ok.overrides[0].reason == "慢病患者，已与医师确认" and not ok.automatic and ok.rule_pack_version == V


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


def test_upper_review_needs_an_upper_doctor(rx):
    st = state(drugs(rx, 6))
    st = replace(st, review=st.review.model_copy(update={"needs_upper_review": True}))
    overrides = [Override(rule_id="format.max_drugs", reason="上级医师确认")]
    with pytest.raises(Refused, match="upper"):
        approve(st, overrides)
    assert approve(st, overrides, role="upper_doctor").overrides == tuple(overrides)


def test_reject_names_only_findings_that_exist(rx):
    st = state(drugs(rx, 6))
    assert domain.decide_reject(st, reviewer_id="rph-zhao", reason="药品过多", rule_ids=["format.max_drugs"]) == \
        PrescriptionRejected(prescription_id=rx.prescription_id, reviewer_id="rph-zhao", reason="药品过多",
                             rule_ids=("format.max_drugs",))
    with pytest.raises(Refused, match="nope"):
        domain.decide_reject(st, reviewer_id="rph-zhao", reason="x", rule_ids=["nope"])


def test_an_expired_prescription_is_flagged_on_arrival(rx):
    [flagged] = review(rx, now=T0 + timedelta(days=2))
    assert [f.rule_id for f in flagged.findings] == ["validity.expired"]
