"""Delivery handlers: thin; the reaction to a dispense, the courier's HTTP routes and page."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from events.authority import Role
from events.envelope import Envelope
from events.lifecycle import Prescription
from events.privacy import open_contact, pickup_code_hash
from events.schemas import EventPayload
from events.signing import Signer
from services.delivery import domain
from services.delivery.store import (
    clear_code_attempts,
    get_code_attempts,
    get_job,
    list_for_courier,
    put_code_attempts,
)
from services.kit.errors import NotFound, Refused
from services.kit.http import ActorDep, WaitDep, require_role
from services.kit.service import Service
from services.kit.store import Decision

log = logging.getLogger(__name__)
SERVICE_ACTOR = "svc-delivery"
WEB = Path(__file__).parent / "web"

router = APIRouter(prefix="/api", tags=["delivery"])
pages = APIRouter(include_in_schema=False)


class DeliverBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pickup_code: str = Field(min_length=1, max_length=32, description="the code the patient shows",
                             examples=["K7P2QX9M"])


class FailBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500, examples=["电话无人接听，家中无人"])


def on_dispensed(svc: Service, event: Envelope[Any], state: Prescription) -> list[Decision]:
    """A dispense for home delivery opens a job, signed by the service itself."""
    if event.type != "prescription.dispensed":
        return []
    requested = domain.decide_request(state, lambda: svc.reaction_id(event, 1))
    if requested is None:
        return []
    return [Decision(requested, svc.keystore.service_signer(SERVICE_ACTOR), svc.reaction_id(event, 0))]


def _service(request: Request) -> Service:
    return request.app.state.service


async def _act(request: Request, actor: Signer, prescription_id: UUID,
               decide: Callable[[Prescription], EventPayload], wait_s: float = 0.0) -> dict[str, Any]:
    """The courier's act on one job: decided, signed by him, appended in one transaction; with
    wait_s, a job not here yet (its dispense still on the way) is waited for that long."""
    require_role(actor, Role.COURIER)
    svc, stream = _service(request), str(prescription_id)

    async def act_now() -> Prescription:
        return await svc.execute(stream, lambda s: [Decision(decide(s), actor, svc.new_id())])
    return _answer(await svc.news.when_caught_up(stream, wait_s, act_now))


def _answer(state: Prescription) -> dict[str, Any]:
    return {"prescription_id": state.prescription_id, "delivery_id": state.delivery_id,
            "status": str(state.status), "courier_id": state.courier_id, "version": state.version}


@router.get("/jobs")
async def jobs(actor: ActorDep, request: Request,
               limit: Annotated[int, Query(ge=1, le=500)] = 200) -> list[dict[str, Any]]:
    """Open jobs anyone may accept, and the courier's own unfinished ones."""
    require_role(actor, Role.COURIER)
    async with _service(request).db.read() as s:
        return await list_for_courier(s, actor.actor_id, limit)


@router.get("/jobs/{prescription_id}")
async def job(prescription_id: UUID, actor: ActorDep, request: Request, response: Response) -> dict[str, Any]:
    """One job with the patient's contact, for its assigned courier only."""
    require_role(actor, Role.COURIER)
    svc = _service(request)
    state = await svc.state(str(prescription_id))
    show_contact = domain.check_contact_access(state, actor.actor_id)
    async with svc.db.read() as s:
        row = await get_job(s, str(prescription_id))
    if row is None:
        raise NotFound(f"delivery job for prescription {prescription_id}")
    sealed = state.issued.sealed_contact if state.issued else None
    contact = None
    if show_contact and sealed:
        try:
            contact = open_contact(svc.keystore.secrets.contact_key, sealed)
        except ValueError:  # sealed to another key or altered; say so without any of its content
            log.warning("contact of %s does not open with this service's key", prescription_id)
    # Personal data: no proxy or browser cache may keep it.
    response.headers["Cache-Control"] = "no-store"
    return {**row, "contact": contact}


@router.post("/jobs/{prescription_id}/accept")
async def accept(prescription_id: UUID, actor: ActorDep, request: Request, wait: WaitDep) -> dict[str, Any]:
    """The courier takes an open job (with `Prefer: wait=N`, one not here yet is waited for)."""
    return await _act(request, actor, prescription_id, lambda s: domain.decide_accept(s, actor.actor_id), wait)


@router.post("/jobs/{prescription_id}/pickup")
async def pickup(prescription_id: UUID, actor: ActorDep, request: Request) -> dict[str, Any]:
    """The assigned courier collected the package at the pharmacy."""
    return await _act(request, actor, prescription_id, lambda s: domain.decide_pickup(s, actor.actor_id))


@router.post("/jobs/{prescription_id}/deliver")
async def deliver(prescription_id: UUID, body: DeliverBody, actor: ActorDep, request: Request) -> dict[str, Any]:
    """Handed over to the patient, who showed the pickup code. A wrong code changes nothing on
    the log; a run of them locks the job for a while (429), so codes cannot be guessed."""
    require_role(actor, Role.COURIER)
    svc, pid = _service(request), str(prescription_id)
    presented = pickup_code_hash(svc.keystore.secrets.pickup_pepper, body.pickup_code)
    now = svc.clock()

    async def run_so_far(s: AsyncSession, _state: Prescription) -> domain.CodeAttempts:
        # Read in the deciding transaction and cleared there: the delivery ends the run of wrong
        # codes in its own commit, and a refusal rolls the clearing back.
        attempts = await get_code_attempts(s, pid)
        if attempts.wrong:
            await clear_code_attempts(s, pid)
        return attempts

    def decide(state: Prescription, attempts: domain.CodeAttempts) -> list[Decision]:
        domain.check_code_attempts(attempts, now)
        return [Decision(domain.decide_deliver(state, actor.actor_id, presented), actor, svc.new_id())]

    try:
        return _answer(await svc.execute(pid, decide, read_facts=run_so_far, at=now))
    except Refused as exc:
        if exc.reason == "wrong_code":
            async with svc.db.write() as s:  # read again inside the write: concurrent guesses all count
                attempts = domain.after_wrong_code(await get_code_attempts(s, pid), now)
                await put_code_attempts(s, pid, attempts, actor.actor_id)
            log.warning("wrong pickup code for %s by %s (%d in a row)", pid, actor.actor_id, attempts.wrong)
        raise


@router.post("/jobs/{prescription_id}/fail")
async def fail(prescription_id: UUID, body: FailBody, actor: ActorDep, request: Request) -> dict[str, Any]:
    """The courier could not deliver, and says why."""
    return await _act(request, actor, prescription_id, lambda s: domain.decide_fail(s, actor.actor_id, body.reason))


@router.post("/jobs/{prescription_id}/return")
async def return_(prescription_id: UUID, actor: ActorDep, request: Request) -> dict[str, Any]:
    """The drugs are back at the dispensing pharmacy."""
    return await _act(request, actor, prescription_id, lambda s: domain.decide_return(s, actor.actor_id))


@pages.get("/")
async def page() -> FileResponse:
    """The couriers' page (Simplified Chinese)."""
    return FileResponse(WEB / "index.html", media_type="text/html; charset=utf-8")
