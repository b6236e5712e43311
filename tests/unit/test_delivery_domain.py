"""The delivery service's pure decisions, given a folded prescription."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from events.authority import Role
from events.lifecycle import Prescription, Status
from events.privacy import pickup_code_hash
from events.schemas import (
    Channel,
    DeliveryAssigned,
    DeliveryDelivered,
    DeliveryFailed,
    DeliveryRequested,
    DeliveryReturned,
    DispensedLine,
    PrescriptionDispensed,
)
from events.signing import Signer
from services.delivery import domain
from services.kit.errors import NotFound, Refused
from tests.factories import T0, issued

PEPPER = b"p" * 32
PID, DID = uuid4(), uuid4()
S = Status


def dispensed_state(home: bool = True) -> Prescription:
    """A prescription the county hospital pharmacy has just dispensed."""
    doctor = Signer("dr-wang", Role.DOCTOR, "dr-wang-k1", Ed25519PrivateKey.generate(), "clinic-qiaotou")
    rx = issued(doctor, PID, channel=Channel.HOME_DELIVERY).model_copy(
        update={"pickup_code_hash": pickup_code_hash(PEPPER, "K7P2QX9M")})
    line = DispensedLine(item_index=0, drug_code="C08CA01-TAB-5MG", quantity=Decimal("1"), batch_no="B1",
                         trace_codes=("81234567890123456789",))
    done = PrescriptionDispensed(prescription_id=PID, pharmacy_id="pharm-county", pharmacy_kind="hospital",
                                 dispensed_by="ph-county", lines=(line,), for_home_delivery=home)
    return Prescription(str(PID), version=5, status=S.DISPENSED, issued=rx, dispensed=done)


def job(status: Status, courier: str | None = "courier-1") -> Prescription:
    return replace(dispensed_state(), status=status, delivery_id=str(DID),
                   courier_id=None if status == S.DELIVERY_REQUESTED else courier)


def refusal(decide, *args) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(Refused) as caught:
        decide(*args)
    return caught.value.reason


def test_a_home_delivery_dispense_requests_a_delivery_from_the_dispensing_pharmacy():
    assert domain.decide_request(dispensed_state(), lambda: DID) == DeliveryRequested(
        prescription_id=PID, delivery_id=DID, pharmacy_id="pharm-county")


@pytest.mark.parametrize("state", [dispensed_state(home=False), job(S.DELIVERY_REQUESTED), job(S.DELIVERED)])
def test_no_request_for_a_pickup_dispense_or_an_existing_job(state):
    assert domain.decide_request(state, lambda: UUID(int=0)) is None


def test_the_journey_to_the_door():
    assert domain.decide_accept(job(S.DELIVERY_REQUESTED), "courier-2") == DeliveryAssigned(
        prescription_id=PID, delivery_id=DID, courier_id="courier-2")
    assert domain.decide_pickup(job(S.ASSIGNED), "courier-1").courier_id == "courier-1"
    presented = pickup_code_hash(PEPPER, " k7p2-qx9m ")
    assert domain.decide_deliver(job(S.PICKED_UP), "courier-1", presented) == DeliveryDelivered(
        prescription_id=PID, delivery_id=DID, courier_id="courier-1", code_verified=True)


def test_a_wrong_code_is_refused():
    assert refusal(domain.decide_deliver, job(S.PICKED_UP), "courier-1", pickup_code_hash(PEPPER, "AAAAAAAA")) \
        == "wrong_code"


def test_a_failed_delivery_goes_back_to_the_dispensing_pharmacy():
    assert domain.decide_fail(job(S.PICKED_UP), "courier-1", "无人在家") == DeliveryFailed(
        prescription_id=PID, delivery_id=DID, courier_id="courier-1", reason="无人在家")
    assert domain.decide_return(job(S.DELIVERY_FAILED), "courier-1") == DeliveryReturned(
        prescription_id=PID, delivery_id=DID, courier_id="courier-1", pharmacy_id="pharm-county")


@pytest.mark.parametrize(("decide", "status", "reason"), [
    (domain.decide_accept, S.ASSIGNED, "already_assigned"),
    (domain.decide_pickup, S.DELIVERY_REQUESTED, "not_accepted"),
    (domain.decide_pickup, S.PICKED_UP, "already_picked_up"),
    (domain.decide_fail, S.DELIVERED, "already_delivered"),
    (domain.decide_return, S.PICKED_UP, "not_failed"),
    (domain.decide_return, S.RETURNED, "already_returned"),
])
def test_wrong_state_is_refused_with_a_reason(decide, status, reason):
    args = ("x",) if decide is domain.decide_fail else ()
    assert refusal(decide, job(status), "courier-1", *args) == reason


def test_deliver_before_pickup_is_refused():
    assert refusal(domain.decide_deliver, job(S.ASSIGNED), "courier-1", "0" * 64) == "not_picked_up"


@pytest.mark.parametrize("decide", [domain.decide_accept, domain.decide_pickup, domain.decide_return])
def test_only_the_assigned_courier_acts(decide):
    assert refusal(decide, job(S.ASSIGNED), "courier-2") == "not_your_job"


def test_a_prescription_without_a_job_is_not_found():
    with pytest.raises(NotFound):
        domain.decide_accept(dispensed_state(), "courier-1")


def test_the_contact_is_for_the_assigned_courier_while_on_the_way():
    assert domain.check_contact_access(job(S.PICKED_UP), "courier-1") is True
    assert domain.check_contact_access(job(S.DELIVERED), "courier-1") is False
    assert refusal(domain.check_contact_access, job(S.ASSIGNED), "courier-2") == "not_your_job"
    assert refusal(domain.check_contact_access, job(S.DELIVERY_REQUESTED), "courier-1") == "not_accepted"


def test_a_run_of_wrong_codes_locks_the_job_until_the_lockout_runs_out():
    from datetime import timedelta

    from services.delivery.domain import (
        CODE_LOCKOUT,
        MAX_WRONG_CODES,
        CodeAttempts,
        after_wrong_code,
        check_code_attempts,
    )

    attempts, now = CodeAttempts(), T0
    for _ in range(MAX_WRONG_CODES - 1):
        attempts = after_wrong_code(attempts, now)
        check_code_attempts(attempts, now)  # a misheard digit or four: still open
    attempts = after_wrong_code(attempts, now)
    with pytest.raises(Refused) as refused:
        check_code_attempts(attempts, now + CODE_LOCKOUT - timedelta(seconds=1))
    assert refused.value.reason == "too_many_wrong_codes" and refused.value.status == 429
    check_code_attempts(attempts, now + CODE_LOCKOUT)  # open again
    # A wrong code after the lockout starts a new run, not a lockout at once.
    assert after_wrong_code(attempts, now + CODE_LOCKOUT).wrong == 1
