"""Pharmacy on the in-memory broker: a pack (one trace code, 药品追溯码) leaves the pharmacies once."""

from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

import pytest
from sqlalchemy import select

from events.schemas import (
    Channel,
    DeliveryAssigned,
    DeliveryFailed,
    DeliveryRequested,
    DeliveryReturned,
    DispensedLine,
    PrescriptionClaimed,
    PrescriptionDispensed,
)
from services.pharmacy.app import build
from services.pharmacy.config import PharmacySettings
from services.pharmacy.store import packs
from tests.component.harness import run_service
from tests.component.test_pharmacy_support import (
    LINES,
    PHARMACISTS,
    History,
    act,
    counts,
    dispense,
    lines_with,
    reason,
)

C = Channel
PACK = "81234567890123456789"


@pytest.fixture
async def ph(tmp_path, keys_dir, identities):
    async with run_service(build, PharmacySettings, tmp_path, keys_dir, claim_confirm_timeout_s=0.1) as running:
        running.tokens = {a: running.auth(identities.secrets.tokens[a]) for a in PHARMACISTS}
        running.clock.advance(minutes=10)  # after the upstream events
        yield running


async def claimed(ph, identities, pharmacist: str = "ph-county", pharmacy: str = "pharm-county"):
    rx = await History(identities, C.HOSPITAL, pharmacy).approved().publish(ph)
    assert (await act(ph, rx.pid, "claim", pharmacist)).status_code == 200
    await ph.flush()  # the claim comes back from the log: confirmed
    return rx


def dispensed_elsewhere(rx: History, codes: tuple[str, ...]) -> History:
    """A retail pharmacy's claim and home-delivery dispense, as they arrive from the log."""
    pharmacist = rx.ids.signer("ph-renhe")
    rx.emit(PrescriptionClaimed(prescription_id=rx.pid, pharmacy_id="pharm-renhe", pharmacy_kind="retail",
                                claimed_by="ph-renhe"), "pharmacy", pharmacist)
    line = DispensedLine(item_index=0, drug_code=LINES[0]["drug_code"], quantity=Decimal(1), batch_no="B1",
                         trace_codes=codes)
    rx.emit(PrescriptionDispensed(prescription_id=rx.pid, pharmacy_id="pharm-renhe", pharmacy_kind="retail",
                                  dispensed_by="ph-renhe", lines=(line,), for_home_delivery=True),
            "pharmacy", pharmacist)
    return rx


def returned(rx: History) -> History:
    """The courier could not deliver and brought the package back to the pharmacy."""
    service, courier, job = rx.ids.signer("svc-delivery"), rx.ids.signer("courier-2"), uuid4()
    ids = {"prescription_id": rx.pid, "delivery_id": job}
    rx.emit(DeliveryRequested(**ids, pharmacy_id="pharm-renhe"), "delivery", service)
    rx.emit(DeliveryAssigned(**ids, courier_id="courier-2"), "delivery", service)
    rx.emit(DeliveryFailed(**ids, courier_id="courier-2", reason="患者不在家，电话未接通"), "delivery", courier)
    rx.emit(DeliveryReturned(**ids, courier_id="courier-2", pharmacy_id="pharm-renhe"), "delivery", courier)
    return rx


async def test_a_pack_dispensed_once_is_refused_on_another_prescription_and_nothing_is_written(ph, identities):
    first = await claimed(ph, identities)
    assert (await dispense(ph, first.pid, "ph-county", lines=lines_with(PACK))).status_code == 200
    second = await claimed(ph, identities)
    before = await counts(ph)
    refused = await dispense(ph, second.pid, "ph-county", lines=lines_with("81234567890123450000", PACK))
    assert reason(refused) == "trace_code_reused"
    facts = refused.json()["detail"]["facts"]
    assert (facts["trace_code"], facts["pharmacy_id"], facts["count"]) == (PACK, "pharm-county", 1)
    assert str(first.pid) not in refused.text  # the other patient's prescription is not named
    assert await counts(ph) == before
    # Scanned again, the right pack goes out.
    assert (await dispense(ph, second.pid, "ph-county", lines=lines_with("81234567890123450000"))).status_code == 200


async def test_an_opened_pack_goes_out_in_parts_but_never_again_whole(ph, identities):
    split = [{**line, "split_pack": True} for line in lines_with(PACK)]
    for _ in range(2):  # 拆零: two patients each get tablets from one opened box
        rx = await claimed(ph, identities)
        assert (await dispense(ph, rx.pid, "ph-county", lines=split)).status_code == 200
    whole = await claimed(ph, identities)
    assert reason(await dispense(ph, whole.pid, "ph-county", lines=lines_with(PACK))) == "trace_code_reused"
    dispensed = (await ph.service.state(str(rx.pid))).dispensed
    assert dispensed is not None and dispensed.lines[0].split_pack  # on the log, for the regulator


async def test_packs_dispensed_by_another_pharmacy_are_known_from_the_log(ph, identities):
    await dispensed_elsewhere(History(identities, C.HOME_DELIVERY, None).approved(), (PACK,)).publish(ph)
    rx = await claimed(ph, identities)
    refused = await dispense(ph, rx.pid, "ph-county", lines=lines_with(PACK))
    assert reason(refused) == "trace_code_reused"
    assert refused.json()["detail"]["facts"]["pharmacy_id"] == "pharm-renhe"


async def test_a_returned_delivery_puts_its_packs_back_on_the_shelf(ph, identities):
    away = await dispensed_elsewhere(History(identities, C.HOME_DELIVERY, None).approved(), (PACK,)).publish(ph)
    rx = await claimed(ph, identities)
    assert reason(await dispense(ph, rx.pid, "ph-county", lines=lines_with(PACK))) == "trace_code_reused"
    await History.publish(returned(away), ph, away.raws[-4:])
    assert (await dispense(ph, rx.pid, "ph-county", lines=lines_with(PACK))).status_code == 200
    async with ph.service.db.read() as s:
        holder = (await s.execute(select(packs.c.prescription_id).where(packs.c.trace_code == PACK))).scalar_one()
    assert holder == str(rx.pid)


async def test_the_first_prescription_on_the_log_keeps_a_pack_seen_twice(ph, identities):
    """Two pharmacies' dispenses of one pack both reach the log (say, two sites offline): the log's
    order decides who holds it, and the pharmacy keeps serving both prescriptions."""
    first = await dispensed_elsewhere(History(identities, C.HOME_DELIVERY, None).approved(), (PACK,)).publish(ph)
    again = await dispensed_elsewhere(History(identities, C.HOME_DELIVERY, None).approved(), (PACK,)).publish(ph)
    assert str((await ph.service.state(str(again.pid))).status) == "dispensed"
    async with ph.service.db.read() as s:
        rows = list(await s.execute(select(packs.c.trace_code, packs.c.prescription_id)))
    assert [tuple(r) for r in rows] == [(PACK, str(first.pid))]
