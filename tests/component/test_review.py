"""Review on the in-memory broker: the rule pack's verdict, pharmacists' decisions; refusals change nothing."""

from __future__ import annotations

import contextlib
import json
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace
from uuid import uuid4

import pytest
from sqlalchemy import func, select

from events.canonical import canonical_bytes
from events.schemas import Diagnosis, Item
from events.verifier import Accepted, read_verified
from services.kit import tables
from services.review.app import build
from services.review.config import ReviewSettings
from services.review.store import reviews
from tests.component.harness import run_service
from tests.factories import T0, StreamWriter, cancelled, issued

UNKNOWN_DRUG = "ZZ-NOT-IN-FORMULARY"
OVERRIDE = {"rule_id": "format.max_drugs", "reason": "慢病老人，五种以上为长期合用，已电话确认医师"}
# Six village-clinic drugs of six classes, no interaction among them, each fitting a diagnosis
# below: with six on one prescription only format.max_drugs fires.
SIX = (("C08CA01-TAB-5MG", "5", "qd"), ("A10BA02-TAB-500MG", "500", "bid"), ("C10AA05-TAB-20MG", "20", "qn"),
       ("A02BC01-CAP-20MG", "20", "qd"), ("C09AA02-TAB-10MG", "10", "qd"), ("C07AB02-TAB-25MG", "25", "bid"))
DIAGNOSES = (Diagnosis(code="I10", name="原发性高血压"), Diagnosis(code="E11.9", name="2型糖尿病"),
             Diagnosis(code="E78.5", name="高脂血症"), Diagnosis(code="K21.9", name="胃食管反流病"))


@contextlib.asynccontextmanager
async def review_service(tmp_path, keys_dir, identities, **settings):
    """The review service, acting a little after the doctor signed, with a pharmacist's token."""
    async with run_service(build, ReviewSettings, tmp_path, keys_dir, **settings) as running:
        running.clock.advance(minutes=10)
        running.ids = identities
        running.rph = running.auth(identities.secrets.tokens["rph-zhao"])
        running.upper = running.auth(identities.secrets.tokens["up-chen"])
        yield running


@pytest.fixture
async def rv(tmp_path, keys_dir, identities):
    async with review_service(tmp_path, keys_dir, identities) as running:
        yield running


@pytest.fixture
async def manual(tmp_path, keys_dir, identities):
    async with review_service(tmp_path, keys_dir, identities, auto_approve=False) as running:
        yield running


def lines(drugs: int = 1, code: str | None = None) -> tuple[Item, ...]:
    """The first `drugs` of SIX (or one line of another drug code)."""
    base = issued(SimpleNamespace(actor_id="dr-wang", org_id="clinic-qiaotou")).items[0]
    chosen = [(code, "5", "qd")] if code else SIX[:drugs]
    return tuple(base.model_copy(update={"drug_code": c, "drug_name": f"药品{i}", "dose": Decimal(d), "frequency": f})
                 for i, (c, d, f) in enumerate(chosen))


async def prescribe(rv, drugs: int = 1, code: str | None = None, at=T0, **update) -> tuple[str, StreamWriter]:
    """The doctor's signed prescription arrives from the log; the review's verdict goes back to it."""
    doctor, pid = rv.ids.signer("dr-wang"), uuid4()
    rx = issued(doctor, pid, at=at).model_copy(update={"items": lines(drugs, code), "diagnoses": DIAGNOSES, **update})
    writer = StreamWriter(pid, at=at)
    await rv.publish(writer.emit(rx, "prescriber", doctor), key=str(pid))
    await rv.flush()
    writer.version = (await rv.service.state(str(pid))).version
    return str(pid), writer


async def count(svc, table) -> int:
    async with svc.db.read() as s:
        return (await s.execute(select(func.count()).select_from(table))).scalar_one()


async def counts(svc) -> tuple[int, ...]:
    return tuple([await count(svc, t) for t in (tables.events, tables.inbox, reviews)])


async def decided(svc) -> list:
    """The events this service decided, verified as a consumer would see them."""
    async with svc.db.read() as s:
        raws = (await s.execute(select(tables.events.c.raw).order_by(tables.events.c.position))).scalars().all()
    for raw in raws:
        assert isinstance(svc.verifier.verify(raw), Accepted)
    return [read_verified(raw) for raw in raws]


async def queue(rv) -> list[dict]:
    resp = await rv.client.get("/api/queue", headers=rv.rph)
    assert resp.status_code == 200, resp.text
    return resp.json()


async def test_clean_prescription_passes_and_is_approved_by_the_service(rv):
    pid, _ = await prescribe(rv)
    passed, approved = await decided(rv.service)
    assert (passed.type, approved.type) == ("review.passed", "prescription.approved")
    assert passed.actor == approved.actor == "svc-review" and approved.payload.automatic
    assert passed.payload.rule_pack_version == approved.payload.rule_pack_version
    assert (await rv.service.state(pid)).status == "approved" and await queue(rv) == []


async def test_without_auto_approve_a_passed_prescription_waits_for_a_pharmacist(manual):
    pid, _ = await prescribe(manual)
    [row] = await queue(manual)
    assert (row["prescription_id"], row["status"], row["findings"]) == (pid, "passed", [])
    resp = await manual.client.post(f"/api/prescriptions/{pid}/approve", json={"note": "核对无误"}, headers=manual.rph)
    assert resp.status_code == 200 and resp.json()["status"] == "approved"
    approved = (await decided(manual.service))[-1]
    assert (approved.actor, approved.payload.automatic, approved.payload.note) == ("rph-zhao", False, "核对无误")
    assert await queue(manual) == []


async def test_six_drugs_are_flagged_and_approval_needs_an_override_with_a_reason(rv):
    pid, _ = await prescribe(rv, drugs=6)
    [row] = await queue(rv)
    assert row["status"] == "flagged" and [f["rule_id"] for f in row["findings"]] == ["format.max_drugs"]
    before = await counts(rv.service)
    resp = await rv.client.post(f"/api/prescriptions/{pid}/approve", json={}, headers=rv.rph)
    assert resp.status_code == 409 and resp.json()["detail"]["missing"] == ["format.max_drugs"]
    assert await counts(rv.service) == before
    resp = await rv.client.post(f"/api/prescriptions/{pid}/approve", json={"overrides": [OVERRIDE]}, headers=rv.rph)
    assert resp.status_code == 200 and resp.json()["status"] == "approved"
    approved = (await decided(rv.service))[-1]
    assert approved.actor == "rph-zhao" and approved.payload.overrides[0].reason == OVERRIDE["reason"]
    assert await queue(rv) == []


async def test_the_queue_is_oldest_first(manual):
    later, _ = await prescribe(manual, at=T0 + timedelta(minutes=5))
    earlier, _ = await prescribe(manual, drugs=6)
    assert [r["prescription_id"] for r in await queue(manual)] == [earlier, later]


async def test_reject_with_reason_then_nothing_more(rv):
    pid, _ = await prescribe(rv, drugs=6)
    body = {"reason": "药品超过5种，请分开开具", "rule_ids": ["format.max_drugs"]}
    resp = await rv.client.post(f"/api/prescriptions/{pid}/reject", json=body, headers=rv.rph)
    assert resp.status_code == 200 and resp.json()["status"] == "rejected"
    rejected = (await decided(rv.service))[-1]
    assert (rejected.type, rejected.payload.reason, rejected.payload.rule_ids) == \
        ("prescription.rejected", body["reason"], ("format.max_drugs",))
    again = await rv.client.post(f"/api/prescriptions/{pid}/approve", json={"overrides": [OVERRIDE]}, headers=rv.rph)
    assert again.status_code == 409 and again.json()["detail"]["reason"] == "already_rejected"


async def test_unknown_drug_is_flagged_for_a_pharmacist(rv):
    pid, _ = await prescribe(rv, code=UNKNOWN_DRUG)
    detail = (await rv.client.get(f"/api/prescriptions/{pid}", headers=rv.rph)).json()
    assert detail["status"] == "flagged" and detail["needs_override"] == ["formulary.unknown_drug"]
    assert detail["findings"][0]["severity"] == "pharmacist" and detail["findings"][0]["item_index"] == 0
    assert [h["type"] for h in detail["history"]] == ["prescription.issued", "review.flagged"]


async def test_the_doctors_cancel_takes_it_off_the_queue_and_a_later_approve_is_409(rv):
    pid, writer = await prescribe(rv, drugs=6)
    doctor = rv.ids.signer("dr-wang")
    await rv.publish(writer.emit(cancelled(doctor, writer.prescription_id), "prescriber", doctor), key=pid)
    assert await queue(rv) == []
    resp = await rv.client.post(f"/api/prescriptions/{pid}/approve", json={"overrides": [OVERRIDE]}, headers=rv.rph)
    assert resp.status_code == 409 and resp.json()["detail"]["reason"] == "already_cancelled"


async def test_every_event_delivered_twice_changes_nothing(rv):
    pid, _ = await prescribe(rv, drugs=6)
    await rv.client.post(f"/api/prescriptions/{pid}/approve", json={"overrides": [OVERRIDE]}, headers=rv.rph)
    await rv.flush()
    async with rv.service.db.read() as s:
        raws = (await s.execute(select(tables.inbox.c.raw).order_by(tables.inbox.c.position))).scalars().all()
        row = (await s.execute(select(reviews))).one()
    before = await counts(rv.service)
    for raw in raws:
        await rv.publish(raw, key=pid)
    await rv.flush()
    assert await counts(rv.service) == before and len(raws) == 3
    async with rv.service.db.read() as s:
        assert (await s.execute(select(reviews))).one() == row


async def test_a_forged_event_is_recorded_and_the_next_good_one_is_processed(rv):
    doctor, pid = rv.ids.signer("dr-wang"), uuid4()
    good = StreamWriter(pid).emit(issued(doctor, pid), "prescriber", doctor)
    forged = json.loads(good)
    forged["payload"]["items"][0]["quantity"] = "9"
    await rv.publish(canonical_bytes(forged), key=str(pid))
    async with rv.service.db.read() as s:
        assert (await s.execute(select(tables.rejections.c.reason))).scalars().all() == ["bad_signature"]
    assert await count(rv.service, reviews) == 0
    await rv.publish(good, key=str(pid))
    assert (await rv.service.state(str(pid))).status == "approved"


async def test_a_message_rfc8785_cannot_write_is_recorded_and_the_traffic_flows_on(rv):
    # One crafted message (a real key id, an integer beyond 2^53) must not stop the consumer.
    doctor, pid = rv.ids.signer("dr-wang"), uuid4()
    good = StreamWriter(pid).emit(issued(doctor, pid), "prescriber", doctor)
    crafted = json.loads(good)
    crafted["payload"]["patient"]["age_years"] = 2**60
    await rv.publish(json.dumps(crafted).encode(), key=str(pid))
    await rv.publish(good, key=str(pid))
    assert (await rv.service.state(str(pid))).status == "approved"
    async with rv.service.db.read() as s:
        assert (await s.execute(select(tables.rejections.c.reason))).scalars().all() == ["not_json"]


@pytest.mark.parametrize("claimed_id, why", [("\\ud800", "not_json"), ("a\\u0000b", "schema_violation")])
async def test_text_no_database_stores_is_recorded_escaped_and_the_traffic_flows_on(rv, claimed_id, why):
    # Unsigned junk claiming an event id that is not UTF-8 (a lone surrogate) or holds NUL: the
    # record of its rejection must store, or the consumer would stop on it for good.
    doctor, pid = rv.ids.signer("dr-wang"), uuid4()
    good = StreamWriter(pid).emit(issued(doctor, pid), "prescriber", doctor)
    crafted = json.loads(good)
    crafted["stream_version"] = "first"
    junk = json.dumps(crafted).replace(crafted["event_id"], claimed_id)
    await rv.publish(junk.encode(), key=str(pid))
    await rv.publish(good, key=str(pid))
    assert (await rv.service.state(str(pid))).status == "approved"
    async with rv.service.db.read() as s:
        rows = (await s.execute(select(tables.rejections.c.reason, tables.rejections.c.event_id))).all()
    assert [tuple(r) for r in rows] == [(why, json.loads(f'"{claimed_id}"').encode(
        "utf-8", "backslashreplace").decode().replace("\x00", "\\x00"))]


async def test_malformed_unknown_and_expired_requests_change_nothing(manual):
    pid, _ = await prescribe(manual)
    before = await counts(manual.service)
    post = manual.client.post
    bad = await post(f"/api/prescriptions/{pid}/reject", json={"reason": "  "}, headers=manual.rph)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "reason"
    bad = await post(f"/api/prescriptions/{pid}/approve", json={"overrides": [{"rule_id": "x"}]}, headers=manual.rph)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-3:] == ["overrides", 0, "reason"]
    unknown = f"/api/prescriptions/{uuid4()}"
    assert (await post(unknown + "/approve", json={}, headers=manual.rph)).status_code == 404
    assert (await manual.client.get(unknown, headers=manual.rph)).status_code == 404
    manual.clock.advance(days=2)
    late = await post(f"/api/prescriptions/{pid}/approve", json={}, headers=manual.rph)
    assert late.status_code == 409 and late.json()["detail"]["reason"] == "expired"
    assert await counts(manual.service) == before


async def test_only_pharmacists_and_upper_doctors_decide(manual):
    pid, _ = await prescribe(manual)
    doctor = manual.auth(manual.ids.secrets.tokens["dr-wang"])
    assert (await manual.client.get("/api/queue", headers=doctor)).status_code == 403
    assert (await manual.client.get("/api/queue")).status_code == 401
    upper = manual.auth(manual.ids.secrets.tokens["up-chen"])
    resp = await manual.client.post(f"/api/prescriptions/{pid}/reject", json={"reason": "诊断依据不足"}, headers=upper)
    assert resp.status_code == 200 and (await decided(manual.service))[-1].actor == "up-chen"


async def test_the_pharmacists_page_is_served_in_chinese(rv):
    resp = await rv.client.get("/")
    assert resp.status_code == 200 and "审方工作台" in resp.text
    assert "上级医师审核" in resp.text and "规则包重跑" in resp.text
    script = await rv.client.get("/static/review.js")
    assert script.status_code == 200 and "/api/queue?level=" in script.text and "/api/rerun" in script.text
