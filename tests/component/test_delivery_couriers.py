"""Delivery's courier API: the journeys, who may see and do what; refusals change nothing."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from services.kit import tables
from tests.component.test_delivery import CONTACT, count, counts, delivery, job_for, post

UNKNOWN = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
async def dl(tmp_path, keys_dir, identities):
    async with delivery(tmp_path, keys_dir, identities) as running:
        yield running


async def test_accept_pickup_deliver_with_the_right_code(dl, identities):
    pid = await job_for(dl, identities)
    assert (await post(dl, pid, "accept", dl.c1)).json()["courier_id"] == "courier-1"
    assert (await post(dl, pid, "pickup", dl.c1)).json()["status"] == "picked_up"
    done = await post(dl, pid, "deliver", dl.c1, {"pickup_code": "k7p2-qx9m"})  # as the patient reads it out
    assert done.status_code == 200 and done.json()["status"] == "delivered"
    await dl.flush()
    assert await count(dl.service, tables.inbox) == 9  # 5 upstream + 4 of its own, back from the log
    assert (await dl.client.get("/api/jobs", headers=dl.c1)).json() == []


async def test_a_wrong_code_is_409_and_changes_nothing(dl, identities):
    pid = await job_for(dl, identities)
    await post(dl, pid, "accept", dl.c1)
    await post(dl, pid, "pickup", dl.c1)
    before = await counts(dl.service)
    wrong = await post(dl, pid, "deliver", dl.c1, {"pickup_code": "AAAAAAAA"})
    assert wrong.status_code == 409 and wrong.json()["detail"]["reason"] == "wrong_code"
    assert await counts(dl.service) == before
    assert (await dl.service.state(pid)).status == "picked_up"


async def test_a_run_of_wrong_codes_locks_the_job_for_a_while_then_the_right_code_delivers(dl, identities):
    from services.delivery.domain import MAX_WRONG_CODES

    pid = await job_for(dl, identities)
    await post(dl, pid, "accept", dl.c1)
    await post(dl, pid, "pickup", dl.c1)
    before = await counts(dl.service)
    for _ in range(MAX_WRONG_CODES):
        assert (await post(dl, pid, "deliver", dl.c1, {"pickup_code": "AAAAAAAA"})).status_code == 409
    locked = await post(dl, pid, "deliver", dl.c1, {"pickup_code": "k7p2-qx9m"})  # even the right one
    assert locked.status_code == 429 and locked.json()["detail"]["reason"] == "too_many_wrong_codes"
    assert (await dl.service.state(pid)).status == "picked_up"
    assert await counts(dl.service) == before  # events, inbox and jobs: nothing written
    assert (await attempts(dl, pid)).wrong == MAX_WRONG_CODES  # the refused delivery cleared nothing
    dl.clock.advance(minutes=16)
    done = await post(dl, pid, "deliver", dl.c1, {"pickup_code": "k7p2-qx9m"})
    assert done.status_code == 200 and done.json()["status"] == "delivered"
    assert (await attempts(dl, pid)).wrong == 0  # the delivery ended the run


async def attempts(dl, pid):  # type: ignore[no-untyped-def]
    from services.delivery.store import get_code_attempts

    async with dl.service.db.read() as s:
        return await get_code_attempts(s, pid)


async def test_fail_then_return_to_the_dispensing_pharmacy(dl, identities):
    pid = await job_for(dl, identities)
    await post(dl, pid, "accept", dl.c1)
    failed = await post(dl, pid, "fail", dl.c1, {"reason": "电话无人接听"})
    assert failed.json()["status"] == "delivery_failed"
    assert (await dl.client.get("/api/jobs", headers=dl.c1)).json()[0]["last_reason"] == "电话无人接听"
    assert (await post(dl, pid, "return", dl.c1)).json()["status"] == "returned"
    async with dl.service.db.read() as s:
        last = (await s.execute(select(tables.events.c.raw).order_by(tables.events.c.position.desc()))).first()
    assert b'"delivery.returned"' in last.raw and b'"pharmacy_id":"pharm-county"' in last.raw


async def test_a_second_courier_cannot_act_on_anothers_job(dl, identities):
    pid = await job_for(dl, identities)
    await post(dl, pid, "accept", dl.c1)
    before = await counts(dl.service)
    for action, body in [("accept", None), ("pickup", None), ("fail", {"reason": "x"}), ("return", None)]:
        resp = await post(dl, pid, action, dl.c2, body)
        assert resp.status_code == 409 and resp.json()["detail"]["reason"] == "not_your_job", action
    assert await counts(dl.service) == before
    assert (await dl.client.get("/api/jobs", headers=dl.c2)).json() == []


async def test_the_contact_is_shown_to_the_assigned_courier_only_and_never_logged(dl, identities, caplog):
    caplog.set_level(logging.DEBUG)
    pid = await job_for(dl, identities)
    early = await dl.client.get(f"/api/jobs/{pid}", headers=dl.c1)
    assert early.status_code == 409 and early.json()["detail"]["reason"] == "not_accepted"
    await post(dl, pid, "accept", dl.c1)
    mine = await dl.client.get(f"/api/jobs/{pid}", headers=dl.c1)
    assert mine.json()["contact"] == CONTACT and mine.headers["cache-control"] == "no-store"
    other = await dl.client.get(f"/api/jobs/{pid}", headers=dl.c2)
    assert other.status_code == 409 and "张三" not in other.text
    await post(dl, pid, "pickup", dl.c1)
    await post(dl, pid, "deliver", dl.c1, {"pickup_code": "K7P2QX9M"})
    after = await dl.client.get(f"/api/jobs/{pid}", headers=dl.c1)
    assert after.json()["status"] == "delivered" and after.json()["contact"] is None  # no longer needed
    assert not any(s in caplog.text for s in (*CONTACT.values(), "K7P2QX9M"))


async def test_malformed_unknown_and_wrong_state_requests_change_nothing(dl, identities):
    pid = await job_for(dl, identities)
    no_job = await job_for(dl, identities, home=False)
    before = await counts(dl.service)
    malformed = [(pid, "deliver", {}, "pickup_code"), (pid, "fail", {"reason": ""}, "reason"),
                 ("not-a-uuid", "accept", None, "prescription_id")]
    for target, action, body, field in malformed:
        resp = await post(dl, target, action, dl.c1, body)
        assert resp.status_code == 422 and resp.json()["detail"][0]["loc"][-1] == field
    for target in (UNKNOWN, no_job):
        assert (await post(dl, target, "accept", dl.c1)).status_code == 404
    assert (await dl.client.get(f"/api/jobs/{UNKNOWN}", headers=dl.c1)).status_code == 404
    wrong_state = [("pickup", None, "not_accepted"), ("deliver", {"pickup_code": "K7P2QX9M"}, "not_accepted"),
                   ("return", None, "not_accepted")]
    for action, body, reason in wrong_state:
        assert (await post(dl, pid, action, dl.c1, body)).json()["detail"]["reason"] == reason
    assert await counts(dl.service) == before
    await post(dl, pid, "accept", dl.c1)
    before = await counts(dl.service)
    for action, body, reason in [("accept", None, "already_assigned"), ("return", None, "not_failed"),
                                 ("deliver", {"pickup_code": "K7P2QX9M"}, "not_picked_up")]:
        resp = await post(dl, pid, action, dl.c1, body)
        assert resp.status_code == 409 and resp.json()["detail"]["reason"] == reason
    assert await counts(dl.service) == before


async def test_only_couriers_use_the_api(dl, identities):
    assert (await dl.client.get("/api/jobs")).status_code == 401
    pharmacist = dl.auth(identities.secrets.tokens["ph-county"])
    assert (await dl.client.get("/api/jobs", headers=pharmacist)).status_code == 403
    service = dl.auth(identities.secrets.tokens["svc-delivery"])
    assert (await dl.client.get("/api/jobs", headers=service)).status_code == 403


async def test_the_couriers_page_is_served_in_chinese(dl):
    page = await dl.client.get("/")
    assert page.status_code == 200 and "骑手工作台" in page.text and 'lang="zh-CN"' in page.text
    assert (await dl.client.get("/static/courier.js")).status_code == 200
