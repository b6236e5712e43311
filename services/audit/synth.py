"""Synthetic prescription journeys, for drills, tests and benchmarks: deterministic from a number.

Each journey is a list of steps a real service would emit, signed by the actor who acts; a few
carry the violations a regulator looks for (a second dispense, a dispense after cancellation or
after validity, a narcotic at a retail pharmacy), so the report has something to find.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID

from events.schemas import (
    DeliveryAssigned,
    DeliveryDelivered,
    DeliveryFailed,
    DeliveryPickedUp,
    DeliveryRequested,
    DeliveryReturned,
    Diagnosis,
    DispensedLine,
    EventPayload,
    Finding,
    Item,
    Override,
    PatientFacts,
    PrescriptionApproved,
    PrescriptionCancelled,
    PrescriptionClaimed,
    PrescriptionDispensed,
    PrescriptionExpired,
    PrescriptionIssued,
    PrescriptionRejected,
    PrescriptionReleased,
    ReviewFlagged,
    ReviewPassed,
)

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
RULES = "2026.11"
DOCTORS = ("dr-wang", "dr-liu", "dr-li")
STAFF = {"pharm-county": "ph-county", "pharm-renhe": "ph-renhe", "pharm-kangning": "ph-kangning",
         "pharm-baishou": "ph-baishou"}
KIND = {"pharm-county": "hospital", "pharm-renhe": "retail", "pharm-kangning": "retail", "pharm-baishou": "retail"}
DRUGS = (("C08CA01-TAB-5MG", "苯磺酸氨氯地平片"), ("A10BA02-TAB-500MG", "盐酸二甲双胍片"),
         ("C10AA05-TAB-20MG", "阿托伐他汀钙片"), ("A02BC01-CAP-20MG", "奥美拉唑肠溶胶囊"),
         ("C09AA02-TAB-10MG", "马来酸依那普利片"), ("J01CA04-CAP-250MG", "阿莫西林胶囊"))
NARCOTIC = ("N02AA01-TAB-10MG", "盐酸吗啡片")
FINDING = Finding(rule_id="max-drugs", clause="处方管理办法 第六条", severity="pharmacist",
                  message_zh="西药处方超过5种药品", message_en="more than 5 drugs on one prescription")
SCENARIOS = {  # name: weight (per 1000)
    "hospital": 245, "retail": 185, "any_designated": 100, "delivered": 120, "delivery_failed": 30,
    "flagged_approved": 80, "rejected": 40, "cancelled": 60, "expired": 50, "released": 40,
    "double_dispense": 10, "dispense_after_cancel": 10, "dispense_after_validity": 10, "narcotic_retail": 10,
    "pack_reused": 10,
}
HOLDS_PACKS = ("hospital", "retail", "delivered")  # dispensed, and the packs never came back


@dataclass(frozen=True)
class Step:
    minutes: float  # after the previous step
    payload: EventPayload
    actor: str


def _scenario(n: int, rng: random.Random | None = None) -> str:
    return (rng or random.Random(n)).choices(list(SCENARIOS), weights=list(SCENARIOS.values()))[0]


def _trace_code(n: int, item: int) -> str:
    return f"8{n:011d}{item:02d}{0:06d}"


def _reused_code(n: int) -> str | None:
    """The code of a pack an earlier prescription still holds (scanned again, or sold again); None
    while no earlier one holds any."""
    m = next((m for m in range(n - 1, -1, -1) if _scenario(m) in HOLDS_PACKS), None)
    return None if m is None else _trace_code(m, 0)


def _pid(n: int) -> UUID:
    return UUID(bytes=hashlib.sha256(f"rx-{n}".encode()).digest()[:16], version=4)


def _issued(n: int, rng: random.Random, doctor: str, channel: str, pharmacy: str | None,
            drugs: tuple[tuple[str, str], ...], at: datetime) -> PrescriptionIssued:
    valid_days = 1 + n % 3
    items = tuple(Item(drug_code=c, drug_name=name, dose=Decimal("5"), dose_unit="mg", frequency="qd", route="po",
                       days=7, quantity=Decimal(1 + rng.randrange(3)), quantity_unit="盒") for c, name in drugs)
    return PrescriptionIssued(
        prescription_id=_pid(n), clinic_id="clinic-shanxia" if doctor == "dr-li" else "clinic-qiaotou",
        doctor_id=doctor, patient=PatientFacts(patient_ref=hashlib.sha256(f"patient-{n % 5000}".encode()).hexdigest(),
                                               sex="MF"[n % 2], age_years=30 + n % 60),
        diagnoses=(Diagnosis(code="I10", name="原发性高血压"),), items=items, channel=channel, pharmacy_id=pharmacy,
        valid_days=valid_days, valid_until=at + timedelta(days=valid_days),
        pickup_code_hash=hashlib.sha256(f"code-{n}".encode()).hexdigest())


def journey(n: int, start: datetime) -> list[Step]:
    """The steps of prescription number n, the first one at start (deterministic in n)."""
    rng = random.Random(n)
    scenario = _scenario(n, rng)
    doctor, pid = DOCTORS[n % len(DOCTORS)], _pid(n)
    retail = rng.choice(("pharm-renhe", "pharm-kangning", "pharm-baishou"))
    channel, pharmacy = {"hospital": ("hospital", "pharm-county"), "delivered": ("home_delivery", "pharm-county"),
                         "delivery_failed": ("home_delivery", "pharm-county"),
                         "any_designated": ("any_designated", None)}.get(scenario, ("retail", retail))
    flagged = scenario in ("flagged_approved", "rejected")
    drugs = DRUGS if flagged else (NARCOTIC,) if scenario == "narcotic_retail" else (DRUGS[n % 5],)
    issued = _issued(n, rng, doctor, channel, pharmacy, drugs, start)
    steps = [Step(0, issued, doctor)]
    add = lambda minutes, payload, actor: steps.append(Step(minutes, payload, actor))  # noqa: E731
    if flagged:
        add(0.1, ReviewFlagged(prescription_id=pid, rule_pack_version=RULES, findings=(FINDING,)), "svc-review")
        if scenario == "rejected":
            add(20, PrescriptionRejected(prescription_id=pid, reviewer_id="rph-sun",
                                         reason="药品品种超过5种，请拆分处方",
                                         rule_ids=("max-drugs",)), "rph-sun")
            return steps
        override = Override(rule_id="max-drugs", reason="慢病多药联用，已与开方医师确认")
        add(15, PrescriptionApproved(prescription_id=pid, reviewer_id="rph-zhao", rule_pack_version=RULES,
                                     overrides=(override,)), "rph-zhao")
    else:
        add(0.1, ReviewPassed(prescription_id=pid, rule_pack_version=RULES), "svc-review")
        add(0.1, PrescriptionApproved(prescription_id=pid, reviewer_id="svc-review", automatic=True,
                                      rule_pack_version=RULES), "svc-review")
    if scenario in ("cancelled", "dispense_after_cancel"):
        add(30, PrescriptionCancelled(prescription_id=pid, doctor_id=doctor, reason="患者要求更换药物"), doctor)
        if scenario == "cancelled":
            return steps
    if scenario == "expired":
        add(issued.valid_days * 1440 + 1, PrescriptionExpired(prescription_id=pid, valid_until=issued.valid_until),
            "svc-pharmacy")
        return steps
    where = pharmacy or retail
    if scenario == "released":
        add(45, PrescriptionClaimed(prescription_id=pid, pharmacy_id=where, pharmacy_kind=KIND[where],
                                    claimed_by=STAFF[where]), STAFF[where])
        add(10, PrescriptionReleased(prescription_id=pid, pharmacy_id=where, reason="缺货，已调货"), STAFF[where])
    late = issued.valid_days * 1440 + 120 if scenario == "dispense_after_validity" else 60
    claim = PrescriptionClaimed(prescription_id=pid, pharmacy_id=where, pharmacy_kind=KIND[where],
                                claimed_by=STAFF[where])
    if scenario != "dispense_after_cancel":  # a claim after cancellation would be void anyway
        add(late, claim, STAFF[where])
    home = channel == "home_delivery"
    reused = _reused_code(n) if scenario == "pack_reused" else None
    lines = tuple(DispensedLine(item_index=i, drug_code=item.drug_code, quantity=item.quantity,
                                batch_no=f"B2026{n % 10000:04d}{i}",
                                trace_codes=(reused if reused and i == 0 else _trace_code(n, i),))
                  for i, item in enumerate(issued.items))
    dispense = PrescriptionDispensed(prescription_id=pid, pharmacy_id=where, pharmacy_kind=KIND[where],
                                     dispensed_by=STAFF[where], lines=lines, for_home_delivery=home)
    add(8, dispense, STAFF[where])
    if scenario == "double_dispense":
        add(90, dispense, STAFF[where])
    if not home:
        return steps
    delivery, courier = UUID(int=pid.int ^ 1), ("courier-1", "courier-2")[n % 2]
    base = dict(prescription_id=pid, delivery_id=delivery)
    add(0.1, DeliveryRequested(**base, pharmacy_id=where), "svc-delivery")
    add(5, DeliveryAssigned(**base, courier_id=courier), "svc-delivery")
    add(12, DeliveryPickedUp(**base, courier_id=courier), courier)
    if scenario == "delivered":
        add(40, DeliveryDelivered(**base, courier_id=courier, code_verified=True), courier)
    else:
        add(40, DeliveryFailed(**base, courier_id=courier, reason="患者不在家，电话无人接听"), courier)
        add(60, DeliveryReturned(**base, courier_id=courier, pharmacy_id=where), courier)
    return steps
