"""Delivery on the in-memory broker: a home-delivery dispense becomes a job; the log is handled exactly once."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from decimal import Decimal
from uuid import uuid4

import pytest
from sqlalchemy import func, select

from events.privacy import pickup_code_hash, seal_contact
from events.schemas import (
    Channel,
    DispensedLine,
    PrescriptionApproved,
    PrescriptionClaimed,
    PrescriptionDispensed,
    ReviewPassed,
)
from services.delivery.app import build
from services.delivery.config import DeliverySettings
from services.delivery.store import jobs
from services.kit import tables
from tests.component.harness import Running, run_service
from tests.factories import StreamWriter, issued

CODE = "K7P2QX9M"
CONTACT = {"name": "张三", "phone": "13800138000", "address": "桥头村三组12号"}


def upstream(ids, home: bool = True) -> tuple[str, list[bytes]]:
    """A prescription's history up to its dispense, as the upstream services sign it."""
    pid = uuid4()
    w, pharmacist, svc = StreamWriter(pid), ids.signer("ph-county"), ids.signer("svc-review")
    rx = issued(ids.signer("dr-wang"), pid, channel=Channel.HOME_DELIVERY, pharmacy_id="pharm-county")
    rx = rx.model_copy(update={"sealed_contact": seal_contact(ids.secrets.contact_public, CONTACT),
                               "pickup_code_hash": pickup_code_hash(ids.secrets.pickup_pepper, CODE)})
    line = DispensedLine(item_index=0, drug_code="C08CA01-TAB-5MG", quantity=Decimal("1"), batch_no="B2611",
                         trace_codes=("81234567890123456789",))
    return str(pid), [
        w.emit(rx, "prescriber", ids.signer("dr-wang")),
        w.emit(ReviewPassed(prescription_id=pid, rule_pack_version="2026.1"), "review", svc),
        w.emit(PrescriptionApproved(prescription_id=pid, reviewer_id="svc-review", automatic=True,
                                    rule_pack_version="2026.1"), "review", svc),
        w.emit(PrescriptionClaimed(prescription_id=pid, pharmacy_id="pharm-county", pharmacy_kind="hospital",
                                   claimed_by="ph-county"), "pharmacy", pharmacist),
        w.emit(PrescriptionDispensed(prescription_id=pid, pharmacy_id="pharm-county", pharmacy_kind="hospital",
                                     dispensed_by="ph-county", lines=(line,), for_home_delivery=home),
               "pharmacy", pharmacist),
    ]


@contextlib.asynccontextmanager
async def delivery(tmp_path, keys_dir, identities) -> AsyncIterator[Running]:  # type: ignore[no-untyped-def]
    """The delivery service on the in-memory broker, with both couriers' credentials at hand."""
    async with run_service(build, DeliverySettings, tmp_path, keys_dir) as running:
        running.clock.advance(hours=1)  # the service acts after the upstream history
        running.c1 = running.auth(identities.secrets.tokens["courier-1"])
        running.c2 = running.auth(identities.secrets.tokens["courier-2"])
        yield running


@pytest.fixture
async def dl(tmp_path, keys_dir, identities):
    async with delivery(tmp_path, keys_dir, identities) as running:
        yield running


async def job_for(dl, ids, home: bool = True) -> str:
    """Publish a dispensed history and let the outbox send what the service decided."""
    pid, history = upstream(ids, home)
    for raw in history:
        await dl.publish(raw, key=pid)
    await dl.flush()
    return pid


async def count(svc, table) -> int:
    async with svc.db.read() as s:
        return (await s.execute(select(func.count()).select_from(table))).scalar_one()


async def counts(svc) -> tuple[int, ...]:
    return tuple([await count(svc, t) for t in (tables.events, tables.inbox, jobs)])


async def post(dl, pid: str, action: str, who, body=None):  # type: ignore[no-untyped-def]
    return await dl.client.post(f"/api/jobs/{pid}/{action}", json=body, headers=who)


async def test_a_home_delivery_dispense_opens_a_job_signed_by_the_service(dl, identities):
    pid = await job_for(dl, identities)
    async with dl.service.db.read() as s:
        rows = (await s.execute(select(tables.events.c.raw))).scalars().all()
    assert len(rows) == 1 and b'"delivery.requested"' in rows[0] and b'"svc-delivery"' in rows[0]
    listed = (await dl.client.get("/api/jobs", headers=dl.c1)).json()
    assert [(j["prescription_id"], j["status"], j["pharmacy_id"]) for j in listed] == [
        (pid, "delivery_requested", "pharm-county")]
    assert "sealed_contact" not in listed[0] and "pickup_code_hash" not in listed[0]


async def test_a_pickup_dispense_opens_no_job(dl, identities):
    await job_for(dl, identities, home=False)
    assert await count(dl.service, tables.events) == 0 and await count(dl.service, jobs) == 0


async def test_every_event_delivered_twice_changes_nothing(dl, identities):
    pid, history = upstream(identities)
    for raw in history:
        await dl.publish(raw, key=pid)
        await dl.publish(raw, key=pid)
    await dl.flush()
    await post(dl, pid, "accept", dl.c1)
    await post(dl, pid, "pickup", dl.c1)
    await dl.flush()
    before = await counts(dl.service)
    async with dl.service.db.read() as s:
        own = (await s.execute(select(tables.events.c.raw))).scalars().all()
    for raw in [*history, *own]:
        await dl.publish(raw, key=pid)
    await dl.flush()
    assert await counts(dl.service) == before == (3, 8, 1)  # one request, however often the dispense came


async def test_a_tampered_message_is_recorded_and_the_traffic_flows_on(dl, identities):
    pid, history = upstream(identities)
    forged = history[-1].replace(b'"batch_no":"B2611"', b'"batch_no":"B2612"')
    for raw in [*history[:-1], forged, history[-1]]:
        await dl.publish(raw, key=pid)
    await dl.flush()
    async with dl.service.db.read() as s:
        reasons = (await s.execute(select(tables.rejections.c.reason))).scalars().all()
    assert forged != history[-1] and reasons == ["bad_signature"]
    assert [j["prescription_id"] for j in (await dl.client.get("/api/jobs", headers=dl.c1)).json()] == [pid]
