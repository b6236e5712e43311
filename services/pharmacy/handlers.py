"""Pharmacy HTTP routes: thin; authenticate, call the domain, append, answer."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from events.authority import Role
from events.directory import org
from events.lifecycle import Prescription
from events.privacy import pickup_code_hash
from events.schemas import DispensedLine
from services.kit.errors import NotFound
from services.kit.http import ActorDep, WaitDep, require_role
from services.kit.service import Service
from services.kit.store import Decision
from services.pharmacy import domain, store
from services.pharmacy.config import PharmacySettings

router = APIRouter(prefix="/api", tags=["pharmacy"])
page = APIRouter(include_in_schema=False)
PAGE = (Path(__file__).parent / "web" / "index.html").read_text(encoding="utf-8")

PickupCode = Annotated[str, Field(min_length=4, max_length=32, examples=["K7P2QX9M"])]
# 药品追溯码: the national drug traceability code printed on every pack is 20 digits.
TraceCode = Annotated[str, Field(pattern=r"^\d{20}$", examples=["81234567890123456789"])]


class LookupBody(BaseModel):
    pickup_code: PickupCode


class ReleaseBody(BaseModel):
    reason: str = Field(min_length=1, max_length=500, examples=["缺货，已建议患者到其他定点药房"])


class DispenseLineBody(DispensedLine):
    model_config = ConfigDict(frozen=True, extra="forbid")
    trace_codes: tuple[TraceCode, ...] = Field(min_length=1, max_length=200)


class DispenseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pickup_code: PickupCode | None = Field(default=None, description="required unless for home delivery")
    lines: tuple[DispenseLineBody, ...] = Field(min_length=1, max_length=20)


async def pharmacist(actor: ActorDep) -> domain.Pharmacist:
    """The caller as a pharmacist of a hospital or retail pharmacy; 403 otherwise."""
    require_role(actor, Role.PHARMACY)
    place = org(actor.org_id or "")
    kind = domain.KINDS.get(place.kind) if place else None
    if kind is None or actor.org_id is None:
        raise HTTPException(403, {"reason": "forbidden", "message": f"{actor.org_id} is not a pharmacy"})
    return domain.Pharmacist(actor.actor_id, actor.org_id, kind)


PharmacistDep = Annotated[domain.Pharmacist, Depends(pharmacist)]


def _service(request: Request) -> Service:
    return request.app.state.service


def _answer(state: Prescription) -> dict[str, Any]:
    return {"prescription_id": state.prescription_id, "status": str(state.status), "version": state.version}


@page.get("/", response_class=HTMLResponse)
async def index() -> str:
    """The pharmacy staff's page (Simplified Chinese)."""
    return PAGE


@router.get("/orders")
async def orders(who: PharmacistDep, request: Request,
                 limit: Annotated[int, Query(ge=1, le=500)] = 200) -> list[dict[str, Any]]:
    """Approved orders routed to the caller's pharmacy, and the ones it has claimed."""
    async with _service(request).db.read() as s:
        return await store.list_for(s, who.pharmacy_id, limit)


@router.post("/orders/lookup")
async def lookup(body: LookupBody, who: PharmacistDep, request: Request) -> list[dict[str, Any]]:
    """Find the patient's prescription by the pickup code they show at the counter."""
    svc = _service(request)
    code_hash = pickup_code_hash(svc.keystore.secrets.pickup_pepper, body.pickup_code)
    async with svc.db.read() as s:
        return await store.lookup(s, code_hash, who)


@router.get("/prescriptions/{prescription_id}")
async def one(prescription_id: UUID, who: PharmacistDep, request: Request) -> dict[str, Any]:
    """One prescription, if it is routed to (or was taken by) the caller's pharmacy."""
    state = await _service(request).state(str(prescription_id))
    issued, mine = state.issued, who.pharmacy_id
    taken = mine in (state.claimed_by_pharmacy, state.dispensed.pharmacy_id if state.dispensed else None)
    if issued is None or not (taken or domain.routed_to(issued.channel, issued.pharmacy_id, who)):
        raise NotFound(f"prescription {prescription_id}")
    return {
        **_answer(state), "claimed_by": state.claimed_by_pharmacy, "last_reason": state.last_reason,
        "issued": issued.model_dump(mode="json", exclude={"sealed_contact", "pickup_code_hash"}),
        "dispensed": state.dispensed.model_dump(mode="json") if state.dispensed else None,
        "history": [{"version": h.version, "type": h.type, "actor": h.actor, "at": h.occurred_at}
                    for h in state.history],
    }


@router.post("/prescriptions/{prescription_id}/claim")
async def claim(prescription_id: UUID, who: PharmacistDep, actor: ActorDep, request: Request,
                wait: WaitDep) -> dict[str, Any]:
    """Take an approved prescription exclusively; every other claim then gets 409. With
    `Prefer: wait=N`, an approval not yet here is waited for, up to N seconds."""
    svc, stream = _service(request), str(prescription_id)

    async def claim_now() -> Prescription:
        now = svc.clock()  # read on each try: a claim after a wait happened after it
        return await svc.execute(stream, lambda s: [
            Decision(domain.decide_claim(s, who, now), actor, svc.new_id())], at=now)
    return _answer(await svc.news.when_caught_up(stream, wait, claim_now))


@router.post("/prescriptions/{prescription_id}/release")
async def release(prescription_id: UUID, body: ReleaseBody, who: PharmacistDep, actor: ActorDep,
                  request: Request) -> dict[str, Any]:
    """The claimant gives the prescription back; it is approved again for others."""
    svc = _service(request)
    state = await svc.execute(str(prescription_id), lambda s: [
        Decision(domain.decide_release(s, who, body.reason), actor, svc.new_id())])
    return _answer(state)


@router.post("/prescriptions/{prescription_id}/dispense")
async def dispense(prescription_id: UUID, body: DispenseBody, who: PharmacistDep, actor: ActorDep,
                   request: Request) -> dict[str, Any]:
    """The claimant hands over the drugs, recording batch numbers and trace codes."""
    svc, stream = _service(request), str(prescription_id)
    settings: PharmacySettings = svc.settings  # type: ignore[assignment]
    code = pickup_code_hash(svc.keystore.secrets.pickup_pepper, body.pickup_code) if body.pickup_code else None
    lines = [DispensedLine.model_validate(line.model_dump()) for line in body.lines]
    # A claim still in the outbox can lose to a cancel already on the log: nothing leaves
    # the shelf until the log has confirmed the claim.
    confirmed = await svc.wait_confirmed(stream, settings.claim_confirm_timeout_s)
    now = svc.clock()
    state = await svc.execute(stream, lambda s, earlier: [Decision(
        domain.decide_dispense(s, who, lines, pickup_hash=code, confirmed=confirmed, now=now, earlier=earlier),
        actor, svc.new_id())],
        read_facts=lambda session, _state: store.take_packs(session, stream, who.pharmacy_id, lines, now), at=now)
    return _answer(state)
