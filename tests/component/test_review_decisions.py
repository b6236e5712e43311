"""Signed decisions on the in-memory broker: overrides carry a reason and the approver's signature;
beyond the village-clinic formulary only an upper-level doctor approves, from his own queue."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import select

from events.canonical import signed_part
from events.signing import verify_signature
from events.verifier import read_verified
from services.kit import tables
from tests.component.test_review import OVERRIDE, counts, decided, lines, prescribe, review_service

TELMISARTAN = "C09CA07-TAB-40MG"  # on the community's formulary, not on the village clinics' list
UPPER = {"rule_id": "prescriber.village_formulary", "reason": "血压控制不佳，上级医师评估后同意换用替米沙坦"}


@pytest.fixture
async def rv(tmp_path, keys_dir, identities):
    async with review_service(tmp_path, keys_dir, identities) as running:
        yield running


def telmisartan():
    return (lines(1)[0].model_copy(update={"drug_code": TELMISARTAN, "drug_name": "替米沙坦片",
                                           "dose": Decimal("40")}),)


async def logged(rv, event_type: str):
    """The raw event of that type as it came back from the log (the inbox keeps the bytes)."""
    await rv.flush()
    async with rv.service.db.read() as s:
        return (await s.execute(select(tables.inbox.c.raw).where(tables.inbox.c.type == event_type))).scalar_one()


def signed_by(raw: bytes, identities, actor: str, role: str) -> bool:
    """Does the event verify with that actor's registered key, in that role?"""
    obj = json.loads(raw)
    key = identities.keyring().get(obj["key_id"])
    return (key.actor_id, key.role) == (actor, role) and verify_signature(key.public_key, obj["signature"],
                                                                         signed_part(obj))


async def get_queue(rv, headers, level: str | None = None) -> list[str]:
    resp = await rv.client.get("/api/queue" + (f"?level={level}" if level else ""), headers=headers)
    assert resp.status_code == 200, resp.text
    return [r["prescription_id"] for r in resp.json()]


async def test_an_override_is_on_the_log_with_its_reason_and_the_pharmacists_signature(rv, identities):
    pid, _ = await prescribe(rv, drugs=6)
    before = await counts(rv.service)
    blank = await rv.client.post(f"/api/prescriptions/{pid}/approve", headers=rv.rph,
                                 json={"overrides": [{"rule_id": "format.max_drugs", "reason": "   "}]})
    assert blank.status_code == 422
    none = await rv.client.post(f"/api/prescriptions/{pid}/approve", json={"overrides": []}, headers=rv.rph)
    assert none.status_code == 409 and none.json()["detail"]["missing"] == ["format.max_drugs"]
    assert await counts(rv.service) == before
    ok = await rv.client.post(f"/api/prescriptions/{pid}/approve", json={"overrides": [OVERRIDE]}, headers=rv.rph)
    assert ok.status_code == 200
    raw = await logged(rv, "prescription.approved")
    approved = read_verified(raw)
    assert [(o.rule_id, o.reason) for o in approved.payload.overrides] == [(OVERRIDE["rule_id"], OVERRIDE["reason"])]
    assert approved.payload.reviewer_id == approved.actor == "rph-zhao" and not approved.payload.automatic
    assert signed_by(raw, identities, "rph-zhao", "pharmacist")
    assert not signed_by(raw, identities, "svc-review", "service")


async def test_beyond_the_village_formulary_waits_in_the_upper_queue_only(rv):
    ordinary, _ = await prescribe(rv, drugs=6)
    upper, _ = await prescribe(rv, items=telmisartan())
    detail = (await rv.client.get(f"/api/prescriptions/{upper}", headers=rv.upper)).json()
    assert (detail["status"], detail["needs_upper_review"], detail["needs_override"]) == \
        ("flagged", True, ["prescriber.village_formulary"])
    assert await get_queue(rv, rv.rph) == [ordinary]
    assert await get_queue(rv, rv.upper, "upper") == [upper]
    assert await get_queue(rv, rv.upper, "all") == [ordinary, upper]
    assert (await rv.client.get("/api/queue?level=boss", headers=rv.upper)).status_code == 422


async def test_a_pharmacist_cannot_approve_it_and_the_upper_doctor_signs_the_approval(rv, identities):
    pid, _ = await prescribe(rv, items=telmisartan())
    before = await counts(rv.service)
    refused = await rv.client.post(f"/api/prescriptions/{pid}/approve", json={"overrides": [UPPER]}, headers=rv.rph)
    assert refused.status_code == 409 and refused.json()["detail"]["reason"] == "needs_upper_review"
    unanswered = await rv.client.post(f"/api/prescriptions/{pid}/approve", json={}, headers=rv.upper)
    assert unanswered.status_code == 409 and unanswered.json()["detail"]["missing"] == [UPPER["rule_id"]]
    assert await counts(rv.service) == before
    ok = await rv.client.post(f"/api/prescriptions/{pid}/approve", json={"overrides": [UPPER]}, headers=rv.upper)
    assert ok.status_code == 200 and ok.json()["status"] == "approved"
    raw = await logged(rv, "prescription.approved")
    assert signed_by(raw, identities, "up-chen", "upper_doctor")
    assert read_verified(raw).payload.overrides[0].reason == UPPER["reason"]
    assert await get_queue(rv, rv.upper, "upper") == []


async def test_the_upper_doctor_or_a_pharmacist_may_reject_it_with_a_signed_reason(rv, identities):
    for who, headers in (("up-chen", rv.upper), ("rph-zhao", rv.rph)):
        pid, _ = await prescribe(rv, items=telmisartan())
        body = {"reason": "村卫生室不宜开具，请转诊县医院", "rule_ids": [UPPER["rule_id"]]}
        resp = await rv.client.post(f"/api/prescriptions/{pid}/reject", json=body, headers=headers)
        assert resp.status_code == 200 and resp.json()["status"] == "rejected"
        rejected = (await decided(rv.service))[-1]
        assert (rejected.actor, rejected.payload.reason, rejected.payload.rule_pack_version) == \
            (who, body["reason"], "2026.12.1")
