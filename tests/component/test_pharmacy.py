"""Pharmacy on the in-memory broker: routing, exclusive claims, dispensing, expiry; the log arbitrates."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from events.schemas import Channel
from services.kit import tables
from services.pharmacy.app import build
from services.pharmacy.config import PharmacySettings
from services.pharmacy.expiry import expire_due, expiry_loop
from tests.component.harness import run_service
from tests.component.test_pharmacy_support import (
    CODE,
    LINES,
    PHARMACISTS,
    History,
    act,
    count,
    counts,
    dispense,
    listed,
    lookup,
    reason,
    rows,
    status,
)

C = Channel


@pytest.fixture
async def ph(tmp_path, keys_dir, identities):
    fast = dict(claim_confirm_timeout_s=0.1, expiry_interval_s=0.01)
    async with run_service(build, PharmacySettings, tmp_path, keys_dir, **fast) as running:
        running.tokens = {a: running.auth(identities.secrets.tokens[a]) for a in PHARMACISTS}
        running.clock.advance(minutes=10)  # after the upstream events
        yield running


@pytest.mark.parametrize("channel, pharmacy, sees, not_routed", [
    (C.HOSPITAL, "pharm-county", "ph-county", "ph-renhe"),
    (C.RETAIL, "pharm-renhe", "ph-renhe", "ph-county"),
    (C.HOME_DELIVERY, "pharm-kangning", "ph-kangning", "ph-baishou"),
])
async def test_a_named_channel_routes_to_that_pharmacy_only(ph, identities, channel, pharmacy, sees, not_routed):
    rx = await History(identities, channel, pharmacy).approved().publish(ph)
    assert await listed(ph, sees) == [str(rx.pid)]
    assert await listed(ph, not_routed) == []
    assert reason(await act(ph, rx.pid, "claim", not_routed)) == "not_routed_here"


async def test_any_designated_is_found_by_pickup_code_at_any_retail_pharmacy(ph, identities):
    rx = await History(identities, C.ANY_DESIGNATED, None).approved().publish(ph)
    assert [await listed(ph, who) for who in PHARMACISTS] == [[], [], [], []]  # never broadcast
    assert await lookup(ph, "ph-kangning", CODE.lower()) == [str(rx.pid)]  # as the patient reads it out
    assert await lookup(ph, "ph-kangning", "ZZZZ2222") == []
    assert await lookup(ph, "ph-county", CODE) == []  # a hospital pharmacy is not a designated retail one
    assert reason(await act(ph, rx.pid, "claim", "ph-county")) == "not_routed_here"
    assert (await act(ph, rx.pid, "claim", "ph-kangning")).status_code == 200


async def test_home_delivery_without_a_pharmacy_is_open_to_every_pharmacy(ph, identities):
    rx = await History(identities, C.HOME_DELIVERY, None).approved().publish(ph)
    assert [await listed(ph, who) for who in PHARMACISTS] == [[str(rx.pid)]] * 4


async def test_claim_then_dispense_once_the_claim_is_confirmed(ph, identities):
    rx = await History(identities).approved().publish(ph)
    claimed = await act(ph, rx.pid, "claim", "ph-county")
    assert claimed.status_code == 200 and claimed.json()["status"] == "claimed"
    assert reason(await dispense(ph, rx.pid, "ph-county")) == "claim_unconfirmed"  # still in the outbox
    await ph.flush()
    done = await dispense(ph, rx.pid, "ph-county")
    assert done.status_code == 200 and done.json()["status"] == "dispensed"
    await ph.flush()
    for event_type in ("prescription.claimed", "prescription.dispensed"):  # back from the log, signed by her
        assert [json.loads(r.raw)["actor"] for r in await rows(ph, tables.inbox, event_type)] == ["ph-county"]
    one = (await ph.client.get(f"/api/prescriptions/{rx.pid}", headers=ph.tokens["ph-county"])).json()
    assert one["status"] == "dispensed" and one["dispensed"]["lines"][0]["batch_no"] == "B20261101"


async def test_a_dispense_at_the_deadline_carries_the_time_it_was_decided_at(ph, identities):
    """The validity check and the event's occurred_at read one clock once: a dispense found valid
    is never on the log after valid_until, where the regulator would report it as expired."""
    rx = await History(identities).approved().publish(ph)
    assert (await act(ph, rx.pid, "claim", "ph-county")).status_code == 200
    await ph.flush()
    deadline = (await ph.service.state(str(rx.pid))).issued.valid_until
    ticks = iter(deadline + timedelta(seconds=s) for s in itertools.count())  # a second passes per reading
    ph.service.clock = lambda: next(ticks)
    assert (await dispense(ph, rx.pid, "ph-county")).status_code == 200
    dispensed = (await rows(ph, tables.events, "prescription.dispensed"))[0]
    assert datetime.fromisoformat(json.loads(dispensed.raw)["occurred_at"]) <= deadline


async def test_of_several_simultaneous_claims_exactly_one_wins(ph, identities):
    rx = await History(identities, C.ANY_DESIGNATED, None).approved().publish(ph)
    racers = ["ph-renhe", "ph-kangning", "ph-baishou"] * 3
    answers = await asyncio.gather(*(act(ph, rx.pid, "claim", who) for who in racers))
    assert sorted(a.status_code for a in answers) == [200] + [409] * 8
    assert {a.json()["detail"]["reason"] for a in answers if a.status_code == 409} == {"already_claimed"}
    assert await count(ph, tables.events) == 1


async def test_only_the_claimant_dispenses_and_only_with_the_patients_code(ph, identities):
    rx = await History(identities, C.HOME_DELIVERY, None).approved().publish(ph)
    home = await History(identities, C.RETAIL, "pharm-renhe").approved().publish(ph)
    for pid in (rx.pid, home.pid):
        await act(ph, pid, "claim", "ph-renhe")
    await ph.flush()
    assert reason(await dispense(ph, rx.pid, "ph-kangning")) == "not_claimant"
    assert reason(await dispense(ph, home.pid, "ph-renhe", pickup_code="ZZZZ2222")) == "pickup_code_mismatch"
    assert reason(await dispense(ph, home.pid, "ph-renhe", pickup_code=None)) == "pickup_code_required"
    wrong_drug = [{**LINES[0], "drug_code": "C09AA02-TAB-10MG"}]
    assert reason(await dispense(ph, home.pid, "ph-renhe", lines=wrong_drug)) == "drug_mismatch"
    assert (await dispense(ph, rx.pid, "ph-renhe", pickup_code=None)).json()["status"] == "dispensed"


async def _cancelled(ph, rx):
    await rx.publish(ph, [rx.cancel()])


async def _expired(ph, rx):
    ph.clock.advance(days=2)
    assert await expire_due(ph.service) == 1


async def _dispensed(ph, rx):
    await act(ph, rx.pid, "claim", "ph-county")
    await ph.flush()
    await dispense(ph, rx.pid, "ph-county")
    await ph.flush()


@pytest.mark.parametrize("then, why", [
    (_cancelled, "cancelled"), (_expired, "expired"), (_dispensed, "already_dispensed"),
])
async def test_a_claim_of_a_finished_prescription_is_refused_with_the_reason(ph, identities, then, why):
    rx = await History(identities).approved().publish(ph)
    await then(ph, rx)
    assert reason(await act(ph, rx.pid, "claim", "ph-county")) == why


async def test_a_rejected_prescription_cannot_be_claimed(ph, identities):
    rx = await History(identities).rejected().publish(ph)
    assert reason(await act(ph, rx.pid, "claim", "ph-county")) == "rejected"


async def test_a_cancel_on_the_log_before_the_claim_wins(ph, identities):
    rx = await History(identities).approved().publish(ph)
    assert (await act(ph, rx.pid, "claim", "ph-county")).status_code == 200  # pending, version 4
    await rx.publish(ph, [rx.cancel()])  # the doctor's cancel takes version 4 on the log first
    await ph.flush()
    [claim] = await rows(ph, tables.inbox, "prescription.claimed")
    assert claim.void_reason.startswith("stale") and await status(ph, rx.pid) == "cancelled"
    assert reason(await dispense(ph, rx.pid, "ph-county")) == "cancelled"


async def test_a_claim_on_the_log_before_the_cancel_wins(ph, identities):
    rx = await History(identities).approved().publish(ph)
    await act(ph, rx.pid, "claim", "ph-county")
    await ph.flush()
    await rx.publish(ph, [rx.cancel()])  # same version 4, later on the log: void
    [cancel] = await rows(ph, tables.inbox, "prescription.cancelled")
    assert cancel.void_reason.startswith("stale") and await status(ph, rx.pid) == "claimed"
    assert (await dispense(ph, rx.pid, "ph-county")).json()["status"] == "dispensed"


async def test_released_then_another_pharmacy_claims_and_dispenses(ph, identities):
    rx = await History(identities, C.HOME_DELIVERY, None).approved().publish(ph)
    await act(ph, rx.pid, "claim", "ph-renhe")
    assert reason(await act(ph, rx.pid, "release", "ph-kangning", {"reason": "x"})) == "not_claimant"
    released = await act(ph, rx.pid, "release", "ph-renhe", {"reason": "缺货"})
    assert released.json()["status"] == "approved"
    assert (await act(ph, rx.pid, "claim", "ph-kangning")).status_code == 200
    await ph.flush()
    assert await listed(ph, "ph-renhe") == [] and await listed(ph, "ph-kangning") == [str(rx.pid)]
    assert (await dispense(ph, rx.pid, "ph-kangning")).json()["status"] == "dispensed"


async def test_the_sweep_expires_what_passed_its_validity_and_nothing_else(ph, identities):
    waiting = await History(identities).approved().publish(ph)
    claimed = await History(identities).approved().publish(ph)
    done = await History(identities).approved().publish(ph)
    await act(ph, claimed.pid, "claim", "ph-county")
    await _dispensed(ph, done)
    assert await expire_due(ph.service) == 0  # nothing is due yet
    ph.clock.advance(days=1)
    assert await expire_due(ph.service) == 2 and await expire_due(ph.service) == 0
    await ph.flush()
    assert [await status(ph, r.pid) for r in (waiting, claimed, done)] == ["expired", "expired", "dispensed"]
    expired = await rows(ph, tables.events, "prescription.expired")
    assert {json.loads(r.raw)["actor"] for r in expired} == {"svc-pharmacy"}
    assert reason(await dispense(ph, claimed.pid, "ph-county")) == "expired"


async def test_the_background_loop_runs_the_sweep(ph, identities):
    rx = await History(identities).approved().publish(ph)
    ph.clock.advance(days=2)
    loop = asyncio.create_task(expiry_loop(ph.service))
    for _ in range(100):
        if await status(ph, rx.pid) == "expired":
            break
        await asyncio.sleep(0.01)
    loop.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await loop
    assert await status(ph, rx.pid) == "expired"


async def test_every_event_delivered_twice_changes_nothing(ph, identities):
    rx = await History(identities).approved().publish(ph)
    await act(ph, rx.pid, "claim", "ph-county")
    await ph.flush()
    before, state = await counts(ph), await ph.service.state(str(rx.pid))
    async with ph.service.db.read() as s:
        own = (await s.execute(select(tables.events.c.raw))).scalars().all()
    await rx.publish(ph, [*rx.raws, *own])
    assert await counts(ph) == before and await ph.service.state(str(rx.pid)) == state


async def test_a_tampered_message_is_rejected_and_traffic_flows_on(ph, identities):
    rx = History(identities).approved()
    forged = rx.raws[0].replace(b"pharm-county", b"pharm-renhe")  # reroute without the doctor's key
    await rx.publish(ph, [forged])
    async with ph.service.db.read() as s:
        assert (await s.execute(select(tables.rejections.c.reason))).scalars().all() == ["bad_signature"]
    await rx.publish(ph)
    assert await listed(ph, "ph-county") == [str(rx.pid)] and await listed(ph, "ph-renhe") == []


async def test_refusals_and_bad_requests_change_nothing(ph, identities):
    rx = await History(identities).approved().publish(ph)
    await act(ph, rx.pid, "claim", "ph-county")
    before = await counts(ph)
    bad_code = [{**LINES[0], "trace_codes": ["12345"]}]
    malformed = await dispense(ph, rx.pid, "ph-county", lines=bad_code)
    assert malformed.status_code == 422 and malformed.json()["detail"][0]["loc"][-2:] == ["trace_codes", 0]
    no_reason = await act(ph, rx.pid, "release", "ph-county", {})
    assert no_reason.status_code == 422 and no_reason.json()["detail"][0]["loc"][-1] == "reason"
    assert (await act(ph, "00000000-0000-0000-0000-000000000000", "claim", "ph-county")).status_code == 404
    assert (await act(ph, "not-a-uuid", "claim", "ph-county")).status_code == 422
    assert reason(await act(ph, rx.pid, "claim", "ph-county")) == "already_claimed"
    assert (await ph.client.post(f"/api/prescriptions/{rx.pid}/claim")).status_code == 401
    doctor = ph.auth(identities.secrets.tokens["dr-wang"])
    assert (await ph.client.get("/api/orders", headers=doctor)).status_code == 403
    assert await counts(ph) == before


async def test_the_staff_page_is_served_in_chinese(ph):
    page = await ph.client.get("/")
    assert page.status_code == 200 and "药房工作台" in page.text
