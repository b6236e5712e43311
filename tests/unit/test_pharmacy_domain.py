"""The pharmacy's pure decisions: routing, claim, release, dispense, expire."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from events.authority import Role
from events.lifecycle import Prescription, Status
from events.schemas import Channel, DispensedLine, PrescriptionClaimed, PrescriptionExpired, PrescriptionReleased
from events.signing import Signer
from services.kit.errors import NotFound, Refused
from services.pharmacy.domain import (
    DispensedPack,
    Pharmacist,
    decide_claim,
    decide_dispense,
    decide_expire,
    decide_release,
    routed_to,
)
from tests.factories import T0, issued

S, C = Status, Channel
DOCTOR = Signer("dr-wang", Role.DOCTOR, "dr-wang-k1", Ed25519PrivateKey.generate(), "clinic-qiaotou")
COUNTY = Pharmacist("ph-county", "pharm-county", "hospital")
RENHE = Pharmacist("ph-renhe", "pharm-renhe", "retail")
NOW = T0 + timedelta(hours=2)
LATE = T0 + timedelta(days=1, minutes=1)  # issued(...) is valid for one day from T0
LINE = DispensedLine(item_index=0, drug_code="C08CA01-TAB-5MG", quantity=Decimal(1), batch_no="B20261101",
                     trace_codes=("81234567890123456789",))


def rx(status: Status = S.APPROVED, channel: Channel = C.HOSPITAL, named: str | None = "pharm-county",
       claimed_by: str | None = None) -> Prescription:
    """A prescription folded to `status`, as the pharmacy would see it."""
    payload = issued(DOCTOR, channel=channel, pharmacy_id=named)
    return Prescription(str(payload.prescription_id), version=4, status=status, issued=payload,
                        claimed_by_pharmacy=claimed_by)


def refusal(decide, *args, **kw) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(Refused) as caught:
        decide(*args, **kw)
    return caught.value.reason


@pytest.mark.parametrize("channel, named, who, expected", [
    (C.HOSPITAL, "pharm-county", COUNTY, True), (C.HOSPITAL, "pharm-county", RENHE, False),
    (C.RETAIL, "pharm-renhe", RENHE, True), (C.RETAIL, "pharm-kangning", RENHE, False),
    (C.ANY_DESIGNATED, None, RENHE, True), (C.ANY_DESIGNATED, None, COUNTY, False),
    (C.HOME_DELIVERY, None, COUNTY, True), (C.HOME_DELIVERY, "pharm-renhe", COUNTY, False),
])
def test_routing_follows_the_channel(channel, named, who, expected):
    assert routed_to(channel, named, who) is expected


def test_an_approved_prescription_routed_here_is_claimed_by_the_pharmacist():
    state = rx()
    assert decide_claim(state, COUNTY, NOW) == PrescriptionClaimed(
        prescription_id=state.issued.prescription_id, pharmacy_id="pharm-county", pharmacy_kind="hospital",
        claimed_by="ph-county")


@pytest.mark.parametrize("status, why", [
    (S.CLAIMED, "already_claimed"), (S.DISPENSED, "already_dispensed"), (S.DELIVERED, "already_dispensed"),
    (S.CANCELLED, "cancelled"), (S.REJECTED, "rejected"), (S.EXPIRED, "expired"), (S.FLAGGED, "not_approved"),
])
def test_only_an_approved_prescription_can_be_claimed(status, why):
    assert refusal(decide_claim, rx(status), COUNTY, NOW) == why


def test_a_claim_is_refused_past_validity_and_elsewhere_before_anything_else():
    assert refusal(decide_claim, rx(), COUNTY, LATE) == "expired"
    assert refusal(decide_claim, rx(S.CANCELLED), RENHE, NOW) == "not_routed_here"
    with pytest.raises(NotFound):
        decide_claim(replace(rx(), issued=None), COUNTY, NOW)


def test_only_the_claimant_releases():
    state = rx(S.CLAIMED, claimed_by="pharm-county")
    assert decide_release(state, COUNTY, "缺货") == PrescriptionReleased(
        prescription_id=state.issued.prescription_id, pharmacy_id="pharm-county", reason="缺货")
    assert refusal(decide_release, state, RENHE, "x") == "not_claimant"
    assert refusal(decide_release, rx(), COUNTY, "x") == "not_claimed"


def dispense(state=None, who=COUNTY, lines=(LINE,), code=None, confirmed=True, now=NOW):  # type: ignore[no-untyped-def]
    state = state or rx(S.CLAIMED, claimed_by="pharm-county")
    code = code if code is not None else state.issued.pickup_code_hash
    return decide_dispense(state, who, lines, pickup_hash=code, confirmed=confirmed, now=now)


def test_the_claimant_dispenses_every_item_with_the_patients_code():
    event = dispense()
    assert (event.pharmacy_id, event.dispensed_by, event.lines, event.for_home_delivery) == (
        "pharm-county", "ph-county", (LINE,), False)


def test_home_delivery_needs_no_code_at_the_counter():
    state = rx(S.CLAIMED, C.HOME_DELIVERY, None, claimed_by="pharm-renhe")
    event = decide_dispense(state, RENHE, [LINE], pickup_hash=None, confirmed=True, now=NOW)
    assert event.for_home_delivery and event.pharmacy_kind == "retail"


def line(**changes):  # type: ignore[no-untyped-def]
    return LINE.model_copy(update=changes)


@pytest.mark.parametrize("kw, why", [
    ({"who": RENHE}, "not_claimant"), ({"state": rx()}, "not_claimed"), ({"state": rx(S.CANCELLED)}, "cancelled"),
    ({"confirmed": False}, "claim_unconfirmed"), ({"now": LATE}, "expired"),
    ({"code": "0" * 64}, "pickup_code_mismatch"), ({"lines": ()}, "lines_incomplete"),
    ({"lines": (line(drug_code="C09AA02-TAB-10MG"),)}, "drug_mismatch"),
    ({"lines": (line(item_index=1),)}, "line_mismatch"), ({"lines": (LINE, LINE)}, "line_mismatch"),
    ({"lines": (line(quantity=Decimal(2)),)}, "over_quantity"),
    ({"lines": (line(trace_codes=LINE.trace_codes * 2),)}, "duplicate_trace_code"),
])
def test_a_dispense_is_refused_with_the_reason(kw, why):
    assert refusal(dispense, **kw) == why


def test_a_pack_already_dispensed_on_another_prescription_is_refused_with_where_and_when():
    state = rx(S.CLAIMED, claimed_by="pharm-county")
    own = str(state.issued.prescription_id)
    code, other = LINE.trace_codes[0], "81234567890123450000"
    sold = DispensedPack(code, "another-rx", "pharm-renhe", T0, split=False)
    earlier = [DispensedPack(other, "third-rx", "pharm-kangning", T0, split=False), sold]
    lines = (line(trace_codes=(code, other)),)
    with pytest.raises(Refused) as caught:
        decide_dispense(state, COUNTY, lines, pickup_hash=state.issued.pickup_code_hash, confirmed=True, now=NOW,
                        earlier=earlier)
    assert caught.value.reason == "trace_code_reused"
    # The lowest code is named, and how many more there are; nothing of the other prescription.
    assert caught.value.facts == {"trace_code": other, "pharmacy_id": "pharm-kangning",
                                  "dispensed_at": T0.isoformat(), "count": 2, "split": False}
    assert "another-rx" not in caught.value.message and "third-rx" not in caught.value.message
    # Its own packs (a record of this very prescription) are no reuse.
    mine = [DispensedPack(code, own, "pharm-county", T0, split=False)]
    assert decide_dispense(state, COUNTY, (LINE,), pickup_hash=state.issued.pickup_code_hash, confirmed=True,
                           now=NOW, earlier=mine).lines == (LINE,)


@pytest.mark.parametrize("earlier_split, now_split, refused", [
    (True, True, False),  # 拆零: parts of one opened pack go out on several prescriptions
    (True, False, True),  # an opened pack cannot leave whole
    (False, True, True),  # nor a pack sold whole be sold again in parts
])
def test_an_opened_pack_is_shared_by_split_dispenses_only(earlier_split, now_split, refused):
    state = rx(S.CLAIMED, claimed_by="pharm-county")
    earlier = [DispensedPack(LINE.trace_codes[0], "another-rx", "pharm-county", T0, split=earlier_split)]
    lines = (line(split_pack=now_split),)
    decide = lambda: decide_dispense(state, COUNTY, lines, pickup_hash=state.issued.pickup_code_hash,  # noqa: E731
                                     confirmed=True, now=NOW, earlier=earlier)
    if refused:
        assert refusal(decide) == "trace_code_reused"
    else:
        assert decide().lines[0].split_pack


def test_a_counter_dispense_without_the_code_is_refused():
    state = rx(S.CLAIMED, claimed_by="pharm-county")
    assert refusal(decide_dispense, state, COUNTY, [LINE], pickup_hash=None, confirmed=True, now=NOW) == \
        "pickup_code_required"


def test_expiry_is_written_once_validity_passed_and_never_after_dispensing():
    state = rx(S.CLAIMED, claimed_by="pharm-county")
    assert decide_expire(state, LATE) == PrescriptionExpired(
        prescription_id=state.issued.prescription_id, valid_until=state.issued.valid_until)
    assert refusal(decide_expire, state, NOW) == "not_due"
    assert refusal(decide_expire, rx(S.DISPENSED), LATE) == "already_dispensed"
    assert refusal(decide_expire, rx(S.CANCELLED), LATE) == "already_cancelled"
