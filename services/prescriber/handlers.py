"""Prescriber HTTP routes: thin; authenticate, call the domain, append, answer."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from events.authority import Role
from events.privacy import new_pickup_code, patient_ref, pickup_code_hash, seal_contact
from services.kit.http import ActorDep, require_role
from services.kit.service import Service
from services.kit.store import Decision
from services.prescriber import domain
from services.prescriber.store import list_for_doctor

router = APIRouter(prefix="/api", tags=["prescriptions"])
pages = APIRouter(include_in_schema=False)
WEB = Path(__file__).parent / "web"


class Issued(BaseModel):
    prescription_id: UUID
    pickup_code: str = Field(description="give this to the patient; it is not stored anywhere")
    valid_until: datetime
    status: str


class CancelBody(BaseModel):
    reason: str = Field(min_length=1, max_length=500, examples=["患者过敏史更新，改用其他药物"])


def _service(request: Request) -> Service:
    return request.app.state.service


@router.post("/prescriptions", status_code=201, response_model=Issued)
async def issue(cmd: domain.IssuePrescription, actor: ActorDep, request: Request) -> Issued:
    """A doctor issues a prescription and gets its id and the patient's pickup code."""
    require_role(actor, Role.DOCTOR)
    svc = _service(request)
    secrets = svc.keystore.secrets
    code, pid, now = new_pickup_code(), svc.new_id(), svc.clock()
    sealed = seal_contact(secrets.contact_public, cmd.contact.model_dump()) if cmd.contact else None
    event = domain.decide_issue(
        cmd, prescription_id=pid, doctor_id=actor.actor_id, clinic_id=actor.org_id or "",
        patient_ref=patient_ref(secrets.pickup_pepper, cmd.patient_id_number),
        pickup_hash=pickup_code_hash(secrets.pickup_pepper, code), sealed_contact=sealed, now=now,
    )
    state = await svc.start_stream(str(pid), [Decision(event, actor, svc.new_id())], at=now)
    return Issued(prescription_id=pid, pickup_code=code, valid_until=event.valid_until, status=str(state.status))


@router.post("/prescriptions/{prescription_id}/cancel")
async def cancel(prescription_id: UUID, body: CancelBody, actor: ActorDep, request: Request) -> dict[str, Any]:
    """The prescribing doctor cancels before a pharmacy has taken the prescription."""
    require_role(actor, Role.DOCTOR)
    svc = _service(request)
    state = await svc.execute(
        str(prescription_id),
        lambda s: [Decision(domain.decide_cancel(s, actor.actor_id, body.reason), actor, svc.new_id())],
    )
    return {"prescription_id": str(prescription_id), "status": str(state.status), "version": state.version}


@router.get("/prescriptions")
async def mine(
    actor: ActorDep, request: Request,
    status: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    """The doctor's own prescriptions with their current state."""
    require_role(actor, Role.DOCTOR)
    async with _service(request).db.read() as s:
        return await list_for_doctor(s, actor.actor_id, status, limit)


@router.get("/prescriptions/{prescription_id}")
async def one(prescription_id: UUID, actor: ActorDep, request: Request) -> dict[str, Any]:
    """One prescription's state and history (the prescribing doctor only)."""
    state = await _service(request).state(str(prescription_id))
    if state.issued is None or state.issued.doctor_id != actor.actor_id:
        from services.kit.errors import NotFound
        raise NotFound(f"prescription {prescription_id}")
    return {
        "prescription_id": state.prescription_id, "status": str(state.status), "version": state.version,
        "issued": state.issued.model_dump(mode="json", exclude={"sealed_contact", "pickup_code_hash"}),
        "last_reason": state.last_reason,
        "history": [{"version": h.version, "type": h.type, "actor": h.actor, "at": h.occurred_at}
                    for h in state.history],
    }


@pages.get("/")
async def page() -> HTMLResponse:
    """The doctor's page (乡村医生开方)."""
    return HTMLResponse((WEB / "index.html").read_text(encoding="utf-8"))
