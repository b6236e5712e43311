"""Pure decisions of the review: the automatic verdict, then a pharmacist's approval or rejection.

No I/O: the clock, the formulary and the actors are arguments.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from events.authority import Role
from events.directory import org
from events.lifecycle import Prescription, Status
from events.schemas import (
    EventPayload,
    Finding,
    Override,
    PrescriptionApproved,
    PrescriptionIssued,
    PrescriptionRejected,
    ReviewFlagged,
    ReviewPassed,
)
from services.kit.errors import NotFound, Refused
from services.review import rules

# Findings a person must answer for; "info" findings travel with the verdict but decide nothing.
NEEDS_DECISION = ("block", "pharmacist")
AWAITING = (Status.PASSED, Status.FLAGGED)


class OverridesMissing(Refused):
    """An approval left findings unanswered; carries their rule ids."""

    def __init__(self, rule_ids: list[str]) -> None:
        super().__init__("overrides_missing", f"override with a reason needed for: {', '.join(rule_ids)}")
        self.rule_ids = rule_ids


def needing_decision(findings: Sequence[Finding]) -> list[str]:
    """Rule ids (once each, in order) of findings a pharmacist must override or reject."""
    return list(dict.fromkeys(f.rule_id for f in findings if f.severity in NEEDS_DECISION))


def clinic_kind(clinic_id: str) -> str | None:
    """The kind of the prescribing organisation in the community's directory (clinic, hospital, ...)."""
    found = org(clinic_id)
    return found.kind if found else None


@dataclass(frozen=True)
class Verdict:
    """What a pack says of one prescription: its findings, and who must decide."""

    findings: tuple[Finding, ...]
    flagged: bool
    needs_upper_review: bool


def verdict(pack: rules.Pack, facts: rules.Facts) -> Verdict:
    """Run a pack: flagged when any finding needs a person, upper-level when the pack says so."""
    findings = pack.run(facts)
    flagged = bool(needing_decision(findings))
    return Verdict(findings, flagged, flagged and pack.needs_upper_review(findings))


def decide_review(
    issued: PrescriptionIssued,
    *,
    issued_at: datetime,
    now: datetime,
    formulary: rules.Formulary,
    auto_approve: bool,
    service_actor: str,
    clinic_kind: str | None = None,
    pack: str = rules.CURRENT,
) -> list[EventPayload]:
    """Run the rule pack: flagged, or passed (and approved at once when auto_approve)."""
    found = verdict(rules.pack(pack), rules.Facts(issued, issued_at, now, formulary, clinic_kind))
    # Both versions travel on the event, so a regulator re-runs exactly these rules over these facts.
    pid, recorded = issued.prescription_id, {"rule_pack_version": pack, "formulary_version": formulary.version}
    if found.flagged:
        return [ReviewFlagged(prescription_id=pid, findings=found.findings,
                              needs_upper_review=found.needs_upper_review, **recorded)]
    passed = ReviewPassed(prescription_id=pid, findings=found.findings, **recorded)
    if not auto_approve:
        return [passed]
    return [passed, PrescriptionApproved(prescription_id=pid, reviewer_id=service_actor, automatic=True,
                                         rule_pack_version=pack)]


def _awaiting(state: Prescription) -> ReviewPassed | ReviewFlagged:
    if state.issued is None:  # a stream this service never saw begin
        raise NotFound(f"prescription {state.prescription_id}")
    if state.status == Status.ISSUED:
        raise Refused("not_reviewed", "the rule pack has not reviewed this prescription yet")
    if state.status not in AWAITING or state.review is None:
        raise Refused(f"already_{state.status}", f"the prescription is {state.status}, no decision is awaited")
    return state.review


def decide_approve(
    state: Prescription, *, reviewer_id: str, role: str, overrides: Sequence[Override], note: str | None,
    now: datetime,
) -> PrescriptionApproved:
    """A pharmacist approves, overriding every finding that needs it with a reason."""
    review = _awaiting(state)
    assert state.issued is not None
    if now >= state.issued.valid_until:  # 处方管理办法 第十八条: an expired prescription may not circulate
        raise Refused("expired", f"the prescription expired at {state.issued.valid_until.isoformat()}")
    if isinstance(review, ReviewFlagged) and review.needs_upper_review and role != Role.UPPER_DOCTOR:
        raise Refused("needs_upper_review", "an upper-level doctor must decide this prescription")
    found = {f.rule_id for f in review.findings}
    stray = [o.rule_id for o in overrides if o.rule_id not in found]
    if stray:
        raise Refused("not_a_finding", f"no finding to override: {', '.join(stray)}")
    answered = {o.rule_id for o in overrides}
    missing = [r for r in needing_decision(review.findings) if r not in answered]
    if missing:
        raise OverridesMissing(missing)
    return PrescriptionApproved(
        prescription_id=state.issued.prescription_id, reviewer_id=reviewer_id, automatic=False,
        # The verdict approved is the one this pack version gave, not whatever pack runs today.
        rule_pack_version=review.rule_pack_version, overrides=tuple(overrides), note=note,
    )


def decide_reject(
    state: Prescription, *, reviewer_id: str, reason: str, rule_ids: Sequence[str]
) -> PrescriptionRejected:
    """A pharmacist or upper-level doctor rejects, optionally naming the findings that decided it.

    A pharmacist may reject a prescription awaiting upper-level review: refusing is always the
    safe direction; only letting it circulate needs the upper-level doctor."""
    review = _awaiting(state)
    assert state.issued is not None
    found = {f.rule_id for f in review.findings}
    stray = [r for r in rule_ids if r not in found]
    if stray:
        raise Refused("not_a_finding", f"no such finding on this prescription: {', '.join(stray)}")
    return PrescriptionRejected(prescription_id=state.issued.prescription_id, reviewer_id=reviewer_id,
                                reason=reason, rule_ids=tuple(dict.fromkeys(rule_ids)),
                                rule_pack_version=review.rule_pack_version)
