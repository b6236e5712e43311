"""Prescriber on the in-memory broker: issue, cancel, list; refusals change nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from services.kit import tables
from services.prescriber.app import build
from services.prescriber.config import PrescriberSettings
from tests.component.harness import run_service

FORM = {
    "patient_id_number": "11010119500101123X",
    "sex": "M",
    "age_years": 67,
    "diagnoses": [{"code": "I10", "name": "原发性高血压"}],
    "items": [{
        "drug_code": "C08CA01-TAB-5MG", "drug_name": "氨氯地平片", "dose": "5", "dose_unit": "mg",
        "frequency": "qd", "route": "po", "days": 7, "quantity": "1", "quantity_unit": "box",
    }],
    "channel": "hospital",
    "pharmacy_id": "pharm-county",
}


@pytest.fixture
async def rx(tmp_path, keys_dir, identities):
    async with run_service(build, PrescriberSettings, tmp_path, keys_dir) as running:
        running.doctor = running.auth(identities.secrets.tokens["dr-wang"])
        yield running


async def count(svc, table) -> int:
    async with svc.db.read() as s:
        return (await s.execute(select(func.count()).select_from(table))).scalar_one()


async def test_issue_returns_id_and_pickup_code_and_the_event_reaches_the_log(rx):
    resp = await rx.client.post("/api/prescriptions", json=FORM, headers=rx.doctor)
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert len(body["pickup_code"]) == 8 and body["status"] == "issued"
    await rx.flush()
    listed = (await rx.client.get("/api/prescriptions", headers=rx.doctor)).json()
    assert [p["prescription_id"] for p in listed] == [body["prescription_id"]]
    assert await count(rx.service, tables.inbox) == 1  # its own event came back from the log


async def test_the_log_carries_no_patient_identity(rx):
    resp = await rx.client.post("/api/prescriptions", json=FORM, headers=rx.doctor)
    async with rx.service.db.read() as s:
        raw = (await s.execute(select(tables.events.c.raw))).scalar_one()
    assert b"11010119500101123X" not in raw and resp.json()["pickup_code"].encode() not in raw


async def test_cancel_then_cancel_again_is_409(rx):
    pid = (await rx.client.post("/api/prescriptions", json=FORM, headers=rx.doctor)).json()["prescription_id"]
    ok = await rx.client.post(f"/api/prescriptions/{pid}/cancel", json={"reason": "患者要求"}, headers=rx.doctor)
    assert ok.status_code == 200 and ok.json()["status"] == "cancelled"
    again = await rx.client.post(f"/api/prescriptions/{pid}/cancel", json={"reason": "x"}, headers=rx.doctor)
    assert again.status_code == 409 and again.json()["detail"]["reason"] == "already_cancelled"


async def test_malformed_request_is_422_naming_the_field_and_changes_nothing(rx):
    bad = {**FORM, "valid_days": 7}
    resp = await rx.client.post("/api/prescriptions", json=bad, headers=rx.doctor)
    assert resp.status_code == 422
    assert resp.json()["detail"][0]["loc"][-1] == "valid_days"
    assert await count(rx.service, tables.events) == 0


async def test_text_holding_nul_is_422_at_the_door_and_changes_nothing(rx):
    # PostgreSQL cannot store U+0000 and every verifier refuses an event holding it.
    bad = {**FORM, "items": [{**FORM["items"][0], "drug_name": "氨氯地平\x00片"}]}
    resp = await rx.client.post("/api/prescriptions", json=bad, headers=rx.doctor)
    assert resp.status_code == 422 and resp.json()["detail"][0]["loc"] == ["body"]
    assert "U+0000" in resp.json()["detail"][0]["msg"]
    resp = await rx.client.get("/api/prescriptions?status=%00", headers=rx.doctor)
    assert resp.status_code == 422 and resp.json()["detail"][0]["loc"] == ["query"]
    resp = await rx.client.post("/api/prescriptions/a%00b/cancel", json={"reason": "x"}, headers=rx.doctor)
    assert resp.status_code == 422 and resp.json()["detail"][0]["loc"] == ["path"]
    assert await count(rx.service, tables.events) == 0
    # A backslash followed by "u0000" is plain text, not NUL, and is taken as such.
    fine = {**FORM, "items": [{**FORM["items"][0], "drug_name": "氨氯地平片\\u0000"}]}
    assert (await rx.client.post("/api/prescriptions", json=fine, headers=rx.doctor)).status_code == 201


async def test_unknown_id_is_404_and_no_token_is_401(rx):
    resp = await rx.client.post("/api/prescriptions/00000000-0000-0000-0000-000000000000/cancel",
                                json={"reason": "x"}, headers=rx.doctor)
    assert resp.status_code == 404
    assert (await rx.client.post("/api/prescriptions", json=FORM)).status_code == 401


async def test_another_doctor_cannot_cancel(rx, identities):
    pid = (await rx.client.post("/api/prescriptions", json=FORM, headers=rx.doctor)).json()["prescription_id"]
    other = rx.auth(identities.secrets.tokens["dr-li"])
    resp = await rx.client.post(f"/api/prescriptions/{pid}/cancel", json={"reason": "x"}, headers=other)
    assert resp.status_code == 409 and resp.json()["detail"]["reason"] == "not_your_prescription"


async def test_the_doctors_page_is_served_in_chinese(rx):
    page = await rx.client.get("/")
    assert page.status_code == 200 and "乡村医生开方" in page.text
    script = await rx.client.get("/static/prescriber.js")
    assert script.status_code == 200 and "/api/prescriptions" in script.text
