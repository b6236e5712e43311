"""Pure decisions of home delivery: request, accept, pick up, deliver, fail, return. No I/O."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from events.lifecycle import Prescription, Status
from events.schemas import (
    DeliveryAssigned,
    DeliveryDelivered,
    DeliveryFailed,
    DeliveryPickedUp,
    DeliveryRequested,
    DeliveryReturned,
)
from services.kit.errors import NotFound, Refused

S = Status
# The courier sees the patient's contact only while he is on the way (个人信息保护法 art. 6:
# the minimum necessary); once delivered, failed or returned he no longer needs it.
CONTACT_VISIBLE = (S.ASSIGNED, S.PICKED_UP)
# Where a job stands in its short life, to tell "too early" from "too late" in a refusal.
_STAGE = {S.DELIVERY_REQUESTED: 0, S.ASSIGNED: 1, S.PICKED_UP: 2, S.DELIVERED: 3, S.DELIVERY_FAILED: 3, S.RETURNED: 4}
_TOO_EARLY = {S.ASSIGNED: "not_accepted", S.PICKED_UP: "not_picked_up", S.DELIVERY_FAILED: "not_failed"}

# A pickup code has about 10^12 values, but a courier holding the package could otherwise try
# codes at the speed of the API: a few wrong ones (a misheard digit) are normal, a run of them
# is not. After MAX_WRONG_CODES in a row the job takes no code for CODE_LOCKOUT.
MAX_WRONG_CODES = 5
CODE_LOCKOUT = timedelta(minutes=15)


class TooManyWrongCodes(Refused):
    status = 429


@dataclass(frozen=True)
class CodeAttempts:
    """Wrong pickup codes presented in a row for one job, and when the last one was."""

    wrong: int = 0
    last_wrong_at: datetime | None = None


def check_code_attempts(attempts: CodeAttempts, now: datetime) -> None:
    """Refuse while a run of wrong codes keeps the job locked."""
    if attempts.wrong >= MAX_WRONG_CODES and attempts.last_wrong_at is not None:
        until = attempts.last_wrong_at + CODE_LOCKOUT
        if now < until:
            minutes = max(1, round((until - now).total_seconds() / 60))
            raise TooManyWrongCodes("too_many_wrong_codes",
                                    f"{attempts.wrong} wrong pickup codes in a row; try again in {minutes} min")


def after_wrong_code(attempts: CodeAttempts, now: datetime) -> CodeAttempts:
    """The count after one more wrong code: a lockout that has run out starts a new run."""
    expired = (attempts.wrong >= MAX_WRONG_CODES and attempts.last_wrong_at is not None
               and now >= attempts.last_wrong_at + CODE_LOCKOUT)
    return CodeAttempts((0 if expired else attempts.wrong) + 1, now)


def decide_request(state: Prescription, new_id: Callable[[], UUID]) -> DeliveryRequested | None:
    """A dispense packed for home delivery opens a delivery job; anything else opens none."""
    dispensed = state.dispensed
    if state.status != S.DISPENSED or dispensed is None or not dispensed.for_home_delivery:
        return None
    return DeliveryRequested(
        prescription_id=dispensed.prescription_id, delivery_id=new_id(), pharmacy_id=dispensed.pharmacy_id
    )


def _ids(state: Prescription) -> tuple[UUID, UUID]:
    if state.delivery_id is None or state.dispensed is None:
        raise NotFound(f"delivery job for prescription {state.prescription_id}")
    return state.dispensed.prescription_id, UUID(state.delivery_id)


def _require(state: Prescription, courier_id: str, *allowed: Status) -> tuple[UUID, UUID]:
    """The job exists, belongs to this courier, and stands where the action may start."""
    ids = _ids(state)
    status = state.status
    assert status is not None
    if status == S.DELIVERY_REQUESTED and status not in allowed:
        raise Refused("not_accepted", "accept the job first")
    if state.courier_id is not None and state.courier_id != courier_id:
        raise Refused("not_your_job", "another courier has this job")
    if status in allowed:
        return ids
    if _STAGE[status] < _STAGE[allowed[0]]:
        raise Refused(_TOO_EARLY[allowed[0]], f"the job is {status}")
    raise Refused(f"already_{status}", f"the job is already {status}")


def decide_accept(state: Prescription, courier_id: str) -> DeliveryAssigned:
    """A courier takes an open job; the first to accept has it."""
    pid, did = _require(state, courier_id, S.DELIVERY_REQUESTED)
    return DeliveryAssigned(prescription_id=pid, delivery_id=did, courier_id=courier_id)


def decide_pickup(state: Prescription, courier_id: str) -> DeliveryPickedUp:
    """The assigned courier collected the package at the dispensing pharmacy."""
    pid, did = _require(state, courier_id, S.ASSIGNED)
    return DeliveryPickedUp(prescription_id=pid, delivery_id=did, courier_id=courier_id)


def decide_deliver(state: Prescription, courier_id: str, presented_hash: str) -> DeliveryDelivered:
    """Handed over only to whoever shows the patient's pickup code."""
    pid, did = _require(state, courier_id, S.PICKED_UP)
    expected = state.issued.pickup_code_hash if state.issued else ""
    # Constant-time, so response timing does not leak how much of a guessed code was right.
    if not expected or not hmac.compare_digest(expected, presented_hash):
        raise Refused("wrong_code", "the pickup code does not match")
    return DeliveryDelivered(prescription_id=pid, delivery_id=did, courier_id=courier_id, code_verified=True)


def decide_fail(state: Prescription, courier_id: str, reason: str) -> DeliveryFailed:
    """The courier could not deliver, and says why."""
    pid, did = _require(state, courier_id, S.ASSIGNED, S.PICKED_UP)
    return DeliveryFailed(prescription_id=pid, delivery_id=did, courier_id=courier_id, reason=reason)


def decide_return(state: Prescription, courier_id: str) -> DeliveryReturned:
    """After a failure the drugs go back to the pharmacy that dispensed them."""
    pid, did = _require(state, courier_id, S.DELIVERY_FAILED)
    assert state.dispensed is not None
    return DeliveryReturned(prescription_id=pid, delivery_id=did, courier_id=courier_id,
                            pharmacy_id=state.dispensed.pharmacy_id)


def check_contact_access(state: Prescription, courier_id: str) -> bool:
    """Only the assigned courier sees the job's details; True while he may also see the contact."""
    _ids(state)
    if state.status == S.DELIVERY_REQUESTED:
        raise Refused("not_accepted", "accept the job first")
    if state.courier_id != courier_id:
        raise Refused("not_your_job", "another courier has this job")
    return state.status in CONTACT_VISIBLE
