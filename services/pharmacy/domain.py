"""Pure decisions of a pharmacy: claim, release, dispense, expire. No I/O; clock is an argument."""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from events.lifecycle import BEFORE_DISPENSE, Prescription, Status
from events.schemas import (
    Channel,
    DispensedLine,
    PrescriptionClaimed,
    PrescriptionDispensed,
    PrescriptionExpired,
    PrescriptionIssued,
    PrescriptionReleased,
    packs_of,
)
from events.schemas.pharmacy import PharmacyKind
from services.kit.errors import NotFound, NotYet, Refused

S = Status
# Directory org kinds that dispense, and how the events name them (双通道: hospital or retail).
KINDS: dict[str, PharmacyKind] = {"hospital_pharmacy": "hospital", "retail_pharmacy": "retail"}
AFTER_DISPENSE = (S.DISPENSED, S.DELIVERY_REQUESTED, S.ASSIGNED, S.PICKED_UP, S.DELIVERED,
                  S.DELIVERY_FAILED, S.RETURNED)


@dataclass(frozen=True)
class DispensedPack:
    """A pack already dispensed, found by its trace code (药品追溯码) in the pharmacy's records."""

    trace_code: str
    prescription_id: str
    pharmacy_id: str
    dispensed_at: datetime
    split: bool  # an opened pack (拆零), which later split dispenses may share


@dataclass(frozen=True)
class Pharmacist:
    """Who acts: the dispensing pharmacist, their pharmacy, and its kind."""

    actor_id: str
    pharmacy_id: str
    kind: PharmacyKind


def routed_to(channel: str, named: str | None, who: Pharmacist) -> bool:
    """May this pharmacy fill a prescription sent down this channel (to this named pharmacy)?"""
    if channel in (Channel.HOSPITAL, Channel.RETAIL):
        return named == who.pharmacy_id
    if channel == Channel.ANY_DESIGNATED:
        return who.kind == "retail"  # any designated retail pharmacy the patient walks into
    return named is None or named == who.pharmacy_id  # home delivery: the named one, else anyone


def _issued(state: Prescription) -> PrescriptionIssued:
    if state.issued is None:
        raise NotFound(f"prescription {state.prescription_id}")
    return state.issued


def _status_refusal(state: Prescription) -> Refused:
    status = state.status
    if status in AFTER_DISPENSE:
        return Refused("already_dispensed", "the prescription has already been dispensed")
    if status == S.CLAIMED:
        return Refused("already_claimed", f"pharmacy {state.claimed_by_pharmacy} has already claimed it")
    if status in (S.CANCELLED, S.REJECTED, S.EXPIRED):
        return Refused(str(status), f"the prescription was {status}")
    if status == S.APPROVED:
        return Refused("not_claimed", "claim the prescription first")
    return NotYet("not_approved", f"the prescription is {status}, not yet approved")


def _still_valid(issued: PrescriptionIssued, now: datetime) -> None:
    # 处方管理办法 art. 18: a prescription past its validity can never be filled,
    # even before the expiry sweep has written it down.
    if issued.valid_until < now:
        raise Refused("expired", f"the prescription was valid until {issued.valid_until.isoformat()}")


def _own_claim(state: Prescription, who: Pharmacist) -> None:
    if state.status != S.CLAIMED:
        raise _status_refusal(state)
    if state.claimed_by_pharmacy != who.pharmacy_id:
        raise Refused("not_claimant", f"pharmacy {state.claimed_by_pharmacy} claimed it, not {who.pharmacy_id}")


def decide_claim(state: Prescription, who: Pharmacist, now: datetime) -> PrescriptionClaimed:
    """Take an approved prescription routed here, exclusively."""
    issued = _issued(state)
    # Routing first: a pharmacy the patient did not choose learns nothing about the prescription.
    if not routed_to(issued.channel, issued.pharmacy_id, who):
        raise Refused("not_routed_here", f"the prescription is not routed to {who.pharmacy_id}")
    if state.status != S.APPROVED:
        raise _status_refusal(state)
    _still_valid(issued, now)
    return PrescriptionClaimed(prescription_id=issued.prescription_id, pharmacy_id=who.pharmacy_id,
                               pharmacy_kind=who.kind, claimed_by=who.actor_id)


def decide_release(state: Prescription, who: Pharmacist, reason: str) -> PrescriptionReleased:
    """Give a claimed prescription back (out of stock, patient went elsewhere); only the claimant."""
    issued = _issued(state)
    _own_claim(state, who)
    return PrescriptionReleased(prescription_id=issued.prescription_id, pharmacy_id=who.pharmacy_id, reason=reason)


def _check_lines(issued: PrescriptionIssued, lines: Sequence[DispensedLine]) -> None:
    items, seen, codes = issued.items, set(), []
    for line in lines:
        i = line.item_index
        if i >= len(items) or i in seen:
            raise Refused("line_mismatch", f"item_index {i} is not an item of the prescription, or repeats")
        if line.drug_code != items[i].drug_code:
            raise Refused("drug_mismatch", f"item {i} is {items[i].drug_code}, not {line.drug_code}")
        # 处方管理办法: the pharmacist dispenses by the prescription, so never more than it says.
        if line.quantity > items[i].quantity:
            raise Refused("over_quantity", f"item {i}: {line.quantity} exceeds the prescribed {items[i].quantity}")
        seen.add(i)
        codes.extend(line.trace_codes)
    missing = sorted(set(range(len(items))) - seen)
    if missing:
        raise Refused("lines_incomplete", f"no line for item(s) {missing}")
    # One trace code is one pack: scanning it twice would report a pack that never left the shelf.
    if len(set(codes)) != len(codes):
        raise Refused("duplicate_trace_code", "a trace code appears more than once")


def _packs_unused(prescription_id: str, lines: Sequence[DispensedLine], earlier: Sequence[DispensedPack]) -> None:
    # 一码一用: a trace code names one pack, which leaves a pharmacy once. A code already
    # dispensed on another prescription is a pack sold twice: a scanning slip, or drugs that
    # came back into circulation (回流药), which insurance fraud checks look for. Packs of a
    # returned delivery are back on the shelf and no longer in the records. An opened pack
    # (拆零) goes out in parts, each part with its code: split dispenses may share it, but a
    # pack sold whole cannot also be sold in parts, nor the other way round.
    split = packs_of(lines)
    others = sorted((p for p in earlier if p.prescription_id != prescription_id
                     and not (p.split and split.get(p.trace_code))), key=lambda p: p.trace_code)
    if others:
        first = others[0]
        more = f" (and {len(others) - 1} more)" if len(others) > 1 else ""
        raise Refused("trace_code_reused", f"trace code {first.trace_code} was already dispensed by "
                      f"{first.pharmacy_id} at {first.dispensed_at.isoformat()}{more}",
                      {"trace_code": first.trace_code, "pharmacy_id": first.pharmacy_id,
                       "dispensed_at": first.dispensed_at.isoformat(), "count": len(others), "split": first.split})


def decide_dispense(
    state: Prescription, who: Pharmacist, lines: Sequence[DispensedLine], *,
    pickup_hash: str | None, confirmed: bool, now: datetime, earlier: Sequence[DispensedPack] = (),
) -> PrescriptionDispensed:
    """Hand over (or pack for delivery) what the claimant prepared, once the log confirmed its claim.

    earlier: the packs already dispensed that carry the trace codes of these lines."""
    issued = _issued(state)
    _own_claim(state, who)
    if not confirmed:
        raise Refused("claim_unconfirmed", "the claim has not come back from the log yet; try again shortly")
    _still_valid(issued, now)
    home = issued.channel == Channel.HOME_DELIVERY
    if not home:  # at the counter the patient proves it is theirs; at home the courier checks the code
        if pickup_hash is None:
            raise Refused("pickup_code_required", "ask the patient for the pickup code")
        if not hmac.compare_digest(pickup_hash, issued.pickup_code_hash):
            raise Refused("pickup_code_mismatch", "the pickup code does not match this prescription")
    _check_lines(issued, lines)
    _packs_unused(str(issued.prescription_id), lines, earlier)
    return PrescriptionDispensed(prescription_id=issued.prescription_id, pharmacy_id=who.pharmacy_id,
                                 pharmacy_kind=who.kind, dispensed_by=who.actor_id, lines=tuple(lines),
                                 for_home_delivery=home)


def decide_expire(state: Prescription, now: datetime) -> PrescriptionExpired:
    """Write down that validity passed before dispensing."""
    issued = _issued(state)
    if state.status not in BEFORE_DISPENSE:
        raise Refused(f"already_{state.status}", f"the prescription is already {state.status}")
    if issued.valid_until >= now:
        raise Refused("not_due", f"valid until {issued.valid_until.isoformat()}")
    return PrescriptionExpired(prescription_id=issued.prescription_id, valid_until=issued.valid_until)
