"""The demo's prescriptions: every channel and every outcome, played through the real APIs."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

from infra.demo_client import Api, DemoAbort

DOCTORS = ("dr-wang", "dr-liu", "dr-li")
# (drug code, name, dose, unit, frequency, days, quantity, diagnosis code, diagnosis name): each drug with a
# diagnosis among its formulary indications; all six are on the village-clinic formulary.
DRUGS = (
    ("C08CA01-TAB-5MG", "氨氯地平片", "5", "mg", "qd", 7, "1", "I10", "原发性高血压"),
    ("A10BA02-TAB-500MG", "二甲双胍片", "500", "mg", "bid", 7, "1", "E11.9", "2型糖尿病"),
    ("C10AA05-TAB-20MG", "阿托伐他汀钙片", "20", "mg", "qn", 7, "1", "E78.5", "高脂血症"),
    ("J01CA04-CAP-250MG", "阿莫西林胶囊", "500", "mg", "tid", 5, "2", "J02.9", "急性咽炎"),
    ("A02BC01-CAP-20MG", "奥美拉唑肠溶胶囊", "20", "mg", "qd", 7, "1", "K21.9", "胃食管反流病"),
    ("C09AA02-TAB-10MG", "依那普利片", "10", "mg", "qd", 7, "1", "I10", "原发性高血压"),
)
CHANNEL = {
    "hospital": ("hospital", "pharm-county"), "retail": ("retail", "pharm-renhe"),
    "any_designated": ("any_designated", None), "released": ("retail", "pharm-baishou"),
    "delivered": ("home_delivery", "pharm-county"), "delivery_failed": ("home_delivery", "pharm-county"),
}
# scenario -> the final state a person would expect to read back
EXPECTED = {
    "hospital": "dispensed", "retail": "dispensed", "any_designated": "dispensed", "released": "dispensed",
    "delivered": "delivered", "delivery_failed": "returned", "flagged_approved": "dispensed",
    "rejected": "rejected", "cancelled": "cancelled", "expired": "expired",
}
PHARMACIST = {"pharm-county": "ph-county", "pharm-renhe": "ph-renhe", "pharm-kangning": "ph-kangning",
              "pharm-baishou": "ph-baishou"}


def form(n: int, scenario: str) -> dict[str, Any]:
    """A plausible prescription; flagged scenarios carry six drugs (处方管理办法 第六条 allows five)."""
    channel, pharmacy = CHANNEL.get(scenario, ("hospital", "pharm-county"))
    drugs = DRUGS if scenario in ("flagged_approved", "rejected") else (DRUGS[n % len(DRUGS)],)
    body: dict[str, Any] = {
        "patient_id_number": f"3301{n:06d}19550101"[:17] + "X",
        "sex": "MF"[n % 2], "age_years": 45 + n % 40,
        # One diagnosis per indication on the prescription (医疗机构处方审核规范 第十五条: drug fits diagnosis).
        "diagnoses": list({code: {"code": code, "name": dx} for *_, code, dx in drugs}.values()),
        "items": [{"drug_code": c, "drug_name": name, "dose": d, "dose_unit": u, "frequency": f, "route": "po",
                   "days": days, "quantity": q, "quantity_unit": "盒"} for c, name, d, u, f, days, q, *_ in drugs],
        "channel": channel, "pharmacy_id": pharmacy, "valid_days": 1 + n % 3,
    }
    if channel == "home_delivery":
        body["contact"] = {"name": f"患者{n}", "phone": f"138{n:08d}", "address": f"桥头村{n % 9 + 1}组{n}号"}
    return body


def dispense_lines(items: list[dict[str, Any]], prescription_id: str) -> list[dict[str, Any]]:
    """Batch numbers and 20-digit trace codes for each item, as scanned at the counter: one code
    per pack, and a pack leaves a pharmacy once, so the codes are drawn from the prescription's id."""
    serial = UUID(prescription_id).int % 10**15
    return [{"item_index": i, "drug_code": item["drug_code"], "quantity": item["quantity"],
             "batch_no": f"B2026{serial % 10_000:04d}{i}",
             "trace_codes": [f"8{serial:015d}{i:02d}{k:02d}" for k in range(max(1, int(Decimal(item["quantity"]))))]}
            for i, item in enumerate(items)]


async def fill(api: Api, pid: str, code: str, pharmacy: str, *, pickup: bool = True) -> None:
    """Claim, then dispense with batch and trace codes (and the patient's code at the counter)."""
    staff = PHARMACIST[pharmacy]
    await api.until(lambda: api.status_in("pharmacy", pid, staff, "approved"), f"{pid} approved at {pharmacy}")
    await api.call("pharmacy", "POST", f"/api/prescriptions/{pid}/claim", staff)
    order = await api.call("pharmacy", "GET", f"/api/prescriptions/{pid}", staff)
    body: dict[str, Any] = {"lines": dispense_lines(order["issued"]["items"], pid)}
    if pickup:
        body["pickup_code"] = code

    async def dispensed() -> bool:
        # Until the pharmacy's claim has come back from the log it answers 409 claim_unconfirmed
        # ("try again shortly"); the pharmacist simply tries again.
        reply = await api.call("pharmacy", "POST", f"/api/prescriptions/{pid}/dispense", staff, body, expect=(200, 409))
        refusal = reply.get("detail") if isinstance(reply.get("detail"), dict) else None
        if refusal is None:
            return True
        if refusal["reason"] != "claim_unconfirmed":
            raise DemoAbort(f"{staff} could not dispense {pid}: {refusal}")
        return False

    await api.until(dispensed, f"{pid} dispensed at {pharmacy}", timeout_s=60)


async def deliver(api: Api, pid: str, code: str, courier: str, *, fail: bool) -> None:
    """Courier accepts, picks up, and delivers with the patient's code, or fails and returns."""
    async def job_open() -> bool:
        jobs = await api.call("delivery", "GET", "/api/jobs?limit=500", courier)
        return any(j["prescription_id"] == pid and j["status"] == "delivery_requested" for j in jobs)

    await api.until(job_open, f"{pid} delivery job")
    for step in ("accept", "pickup"):
        await api.call("delivery", "POST", f"/api/jobs/{pid}/{step}", courier)
    if fail:
        await api.call("delivery", "POST", f"/api/jobs/{pid}/fail", courier, {"reason": "患者不在家，电话无人接听"})
        await api.call("delivery", "POST", f"/api/jobs/{pid}/return", courier)
    else:
        await api.call("delivery", "POST", f"/api/jobs/{pid}/deliver", courier, {"pickup_code": code})
