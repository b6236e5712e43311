"""Re-running folded histories (no database): recorded verdicts against their own pack and
formulary, and what another pack would change."""

from __future__ import annotations

from datetime import timedelta

import pytest

from events.lifecycle import Prescription, Status, Step
from events.schemas import ReviewFlagged
from services.review import domain, replay, rules
from services.review.formulary.versions import load_version
from tests.factories import T0
from tests.unit.test_review_rules_clinical import METFORMIN, item, rx

AT = T0 + timedelta(minutes=3)


def history(prescription, review) -> Prescription:
    """A prescription issued at T0 and reviewed at AT, as lifecycle.fold leaves it."""
    steps = (Step(1, "prescription.issued", "dr-wang", T0), Step(2, review.TYPE, "svc-review", AT))
    status = Status.FLAGGED if isinstance(review, ReviewFlagged) else Status.PASSED
    return Prescription(str(prescription.prescription_id), 2, status, issued=prescription, issued_at=T0,
                        review=review, history=steps)


def reviewed(prescription, pack: str, **changes) -> Prescription:
    """The review the pack gave at AT, recorded (with changes, to play a tampered or legacy one)."""
    verdict = domain.decide_review(prescription, issued_at=T0, now=AT, formulary=load_version(None),
                                   auto_approve=False, service_actor="svc-review", clinic_kind="clinic", pack=pack)[0]
    return history(prescription, verdict.model_copy(update=changes))


def run(*states, pack=rules.CURRENT, formulary=None):
    return replay.report(states, pack=pack, formularies=load_version, formulary=formulary)


def test_a_review_recorded_before_formulary_versions_replays_on_the_formulary_of_its_time():
    legacy = reviewed(rx(item(METFORMIN, "500", "bid")), "2026.11.1", formulary_version=None)
    r = run(legacy)
    assert (r["reviewed"], r["reproduced"], r["mismatches"]) == (1, 1, [])
    [change] = r["changes"]
    assert (change["from"], change["to"], change["added"], change["verdict_changed"]) == \
        ("passed", "flagged", ["diagnosis.mismatch"], True)


def test_an_unknown_pack_or_formulary_on_the_log_is_a_mismatch_not_a_crash():
    clean = rx()
    r = run(reviewed(clean, rules.CURRENT, rule_pack_version="2026.10.1"),
            reviewed(clean, rules.CURRENT, formulary_version="1999.1"))
    assert [m["problem"] for m in r["mismatches"]][0].startswith("no rule pack '2026.10.1'")
    assert "formulary 1999.1 is not kept" in r["mismatches"][1]["problem"]
    assert r["reproduced"] == 0 and len(r["dry_run_unavailable"]) == 1


def test_the_same_findings_with_another_verdict_is_a_mismatch():
    six = reviewed(rx(*[item("C08CA01-TAB-5MG")] * 6), "2026.11.1", needs_upper_review=True)
    [mismatch] = run(six)["mismatches"]
    assert mismatch["problem"] == "different verdict" and mismatch["recorded"] == mismatch["rerun"]


def test_removed_rules_and_unreviewed_prescriptions(monkeypatch):
    lean = rules.Pack("lean", rules.pack("2026.11.1").rules[:3])
    monkeypatch.setattr(rules, "PACKS", {**rules.PACKS, "lean": lean})
    six = reviewed(rx(*[item("C08CA01-TAB-5MG")] * 6), "2026.11.1")
    waiting = Prescription("waiting", 1, Status.ISSUED, issued=rx(), issued_at=T0)
    r = run(six, waiting, pack="lean")
    assert r["reviewed"] == 1
    [change] = r["changes"]
    assert (change["from"], change["to"], change["removed"]) == ("flagged", "passed", ["format.max_drugs"])


def test_an_unknown_dry_run_formulary_is_the_callers_mistake():
    with pytest.raises(LookupError, match="1999.1"):
        run(reviewed(rx(), rules.CURRENT), formulary="1999.1")


def test_outcomes_name_who_decides():
    verdicts = [domain.Verdict((), False, False), domain.Verdict((), True, False), domain.Verdict((), True, True)]
    assert [replay.outcome(v) for v in verdicts] == ["passed", "flagged", "upper"]
