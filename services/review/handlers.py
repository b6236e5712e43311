"""Review subscribers and HTTP routes: thin; authenticate, call the domain, append, answer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse

from events.authority import REVIEWERS
from events.envelope import Envelope
from events.lifecycle import Prescription, Status
from events.schemas import Override
from services.kit.http import ActorDep, require_role
from services.kit.service import Service
from services.kit.store import Decision
from services.review import domain, replay, rules, store
from services.review.bodies import ApproveBody, RejectBody
from services.review.formulary.versions import FormularyUnavailable

router = APIRouter(prefix="/api", tags=["review"])
pages = APIRouter(tags=["pages"])
PAGE = Path(__file__).parent / "web" / "index.html"


React = Callable[[Service, Envelope[Any], Prescription], list[Decision]]


def on_prescription_issued(formulary: rules.Formulary, auto_approve: bool, pack: str = rules.CURRENT) -> React:
    """The reaction to prescription.issued: run the rule pack, signed by the service's own key."""

    def react(svc: Service, event: Envelope[Any], state: Prescription) -> list[Decision]:
        if event.type != "prescription.issued" or state.status != Status.ISSUED or state.issued is None:
            return []
        actor = svc.spec.service_actor
        assert actor is not None and state.issued_at is not None
        payloads = domain.decide_review(
            state.issued, issued_at=state.issued_at, now=svc.clock(), formulary=formulary,
            auto_approve=auto_approve, service_actor=actor, clinic_kind=domain.clinic_kind(state.issued.clinic_id),
            pack=pack,
        )
        signer = svc.keystore.service_signer(actor)
        return [Decision(p, signer, svc.reaction_id(event, n)) for n, p in enumerate(payloads)]

    return react


def _service(request: Request) -> Service:
    return request.app.state.service


def _answer(state: Prescription) -> dict[str, Any]:
    return {"prescription_id": state.prescription_id, "status": str(state.status), "version": state.version}


@router.post("/prescriptions/{prescription_id}/approve")
async def approve(prescription_id: UUID, body: ApproveBody, actor: ActorDep, request: Request) -> dict[str, Any]:
    """A pharmacist (or upper-level doctor) approves, overriding each finding with a reason; the
    approval is signed with the approver's own key, so each override names who answered for it.
    Only an upper-level doctor approves a prescription flagged for upper-level review."""
    require_role(actor, *REVIEWERS)
    svc = _service(request)
    now = svc.clock()

    def decide(state: Prescription) -> list[Decision]:
        overrides = [Override(rule_id=o.rule_id, reason=o.reason) for o in body.overrides]
        event = domain.decide_approve(state, reviewer_id=actor.actor_id, role=actor.role,
                                      overrides=overrides, note=body.note, now=now)
        return [Decision(event, actor, svc.new_id())]

    try:
        return _answer(await svc.execute(str(prescription_id), decide, at=now))
    except domain.OverridesMissing as exc:  # the client needs the ids, not only a sentence
        raise HTTPException(409, {"reason": exc.reason, "message": exc.message, "missing": exc.rule_ids}) from exc


@router.post("/prescriptions/{prescription_id}/reject")
async def reject(prescription_id: UUID, body: RejectBody, actor: ActorDep, request: Request) -> dict[str, Any]:
    """A pharmacist (or upper-level doctor) rejects, with a reason."""
    require_role(actor, *REVIEWERS)
    svc = _service(request)
    state = await svc.execute(str(prescription_id), lambda s: [Decision(
        domain.decide_reject(s, reviewer_id=actor.actor_id, reason=body.reason, rule_ids=body.rule_ids),
        actor, svc.new_id())])
    return _answer(state)


Level = Literal["pharmacist", "upper", "all"]


@router.get("/queue")
async def queue(actor: ActorDep, request: Request, limit: Annotated[int, Query(ge=1, le=500)] = 100,
                level: Level = "pharmacist") -> list[dict[str, Any]]:
    """Prescriptions awaiting a decision, oldest first, with their findings: the pharmacists' queue,
    the upper-level doctors' (level=upper: beyond the village-clinic formulary), or all."""
    require_role(actor, *REVIEWERS)
    async with _service(request).db.read() as s:
        return await store.queue(s, limit, level)


@router.get("/rerun")
async def rerun(actor: ActorDep, request: Request, pack: str = rules.CURRENT,
                formulary: str | None = None) -> dict[str, Any]:
    """Re-run history: recorded verdicts against their own pack, and a dry run of `pack`."""
    require_role(actor, *REVIEWERS)
    if pack not in rules.PACKS:
        raise HTTPException(404, {"reason": "unknown_pack", "message": f"released packs: {', '.join(rules.PACKS)}"})
    states = await replay.load_states(_service(request).db)
    try:
        return replay.report(states, pack=pack, formularies=request.app.state.formularies, formulary=formulary)
    except FormularyUnavailable as exc:
        raise HTTPException(404, {"reason": "unknown_formulary", "message": str(exc)}) from exc


@router.get("/prescriptions/{prescription_id}")
async def one(prescription_id: UUID, actor: ActorDep, request: Request) -> dict[str, Any]:
    """One prescription: state, findings, overrides needed, history."""
    require_role(actor, *REVIEWERS)
    state = await _service(request).state(str(prescription_id))
    issued, review = state.issued, state.review
    return {
        **_answer(state),
        "issued": issued.model_dump(mode="json", exclude={"sealed_contact", "pickup_code_hash"}) if issued else None,
        "issued_at": state.issued_at,
        "outcome": review.TYPE.removeprefix("review.") if review else None,
        "rule_pack_version": review.rule_pack_version if review else None,
        "formulary_version": review.formulary_version if review else None,
        "needs_upper_review": bool(getattr(review, "needs_upper_review", False)),
        "findings": [f.model_dump(mode="json") for f in review.findings] if review else [],
        "needs_override": domain.needing_decision(review.findings) if review else [],
        "reviewer_id": state.reviewer_id,
        "last_reason": state.last_reason,
        "history": [{"version": h.version, "type": h.type, "actor": h.actor, "at": h.occurred_at}
                    for h in state.history],
    }


@pages.get("/", response_class=HTMLResponse, include_in_schema=False)
async def page() -> HTMLResponse:
    """The pharmacists' page (审方工作台)."""
    return HTMLResponse(PAGE.read_text(encoding="utf-8"))
