"""Re-running history from the review's own store: every recorded verdict is reproduced by the pack
that gave it, and a newer pack's dry run lists what would change (HTTP and CLI)."""

from __future__ import annotations

import asyncio
import json
from uuid import uuid4

import pytest

from events.schemas import Finding, ReviewFlagged
from services.review import rerun
from tests.component.test_review import DIAGNOSES, prescribe, review_service
from tests.component.test_review_decisions import telmisartan
from tests.factories import StreamWriter, issued


@pytest.fixture
async def rv(tmp_path, keys_dir, identities):
    async with review_service(tmp_path, keys_dir, identities) as running:
        yield running


@pytest.fixture
async def old(tmp_path, keys_dir, identities):
    """The service as it ran while pack 2026.11.1 was current."""
    async with review_service(tmp_path, keys_dir, identities, rule_pack="2026.11.1") as running:
        yield running


async def report(rv, pack: str | None = None) -> dict:
    resp = await rv.client.get("/api/rerun" + (f"?pack={pack}" if pack else ""), headers=rv.rph)
    assert resp.status_code == 200, resp.text
    return resp.json()


async def test_the_current_pack_reproduces_its_own_verdicts_and_changes_nothing(rv):
    for kw in ({}, {"drugs": 6}, {"items": telmisartan()}):
        await prescribe(rv, **kw)
    r = await report(rv)
    assert (r["pack"], r["reviewed"], r["reproduced"], r["mismatches"], r["changes"]) == \
        ("2026.12.1", 3, 3, [], [])


async def test_a_newer_pack_lists_the_verdicts_it_would_change(old, tmp_path, capsys):
    unfit, _ = await prescribe(old, drugs=2, diagnoses=DIAGNOSES[:1])  # metformin without diabetes
    same, _ = await prescribe(old, drugs=6)
    upper, _ = await prescribe(old, items=telmisartan())
    recorded = await report(old, "2026.11.1")
    assert (recorded["reviewed"], recorded["reproduced"], recorded["mismatches"], recorded["changes"]) == \
        (3, 3, [], [])
    dry = await report(old, "2026.12.1")
    assert dry["reproduced"] == 3 and same not in [c["prescription_id"] for c in dry["changes"]]
    changes = {c["prescription_id"]: (c["from"], c["to"], c["added"], c["removed"]) for c in dry["changes"]}
    assert changes == {unfit: ("passed", "flagged", ["diagnosis.mismatch"], []),
                       upper: ("passed", "upper", ["prescriber.village_formulary"], [])}
    # The CLI reads the same store and says the same.
    url = f"sqlite+aiosqlite:///{tmp_path}/svc.db"
    assert await asyncio.to_thread(rerun.main, ["--db", url, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == dry
    assert await asyncio.to_thread(rerun.main, ["--db", url]) == 0
    text = capsys.readouterr().out
    assert "3 reproduced exactly" in text and f"{unfit}  recorded 2026.11.1  passed -> flagged" in text


async def test_a_recorded_verdict_the_pack_would_not_give_is_reported(rv, tmp_path, capsys):
    doctor, pid = rv.ids.signer("dr-wang"), uuid4()
    writer = StreamWriter(pid)
    await rv.publish(writer.emit(issued(doctor, pid), "prescriber", doctor), key=str(pid))
    # A verdict on the log that no pack gives this prescription, signed by the review's own key.
    wrong = Finding(rule_id="format.max_drugs", clause="处方管理办法 第六条", severity="block",
                    message_zh="一张处方开具6种药品，超过5种", message_en="6 drugs on one prescription, more than 5")
    forged = ReviewFlagged(prescription_id=pid, rule_pack_version="2026.12.1", formulary_version="2025.1",
                           findings=(wrong,))
    await rv.publish(writer.emit(forged, "review", rv.ids.signer("svc-review")), key=str(pid))
    [mismatch] = (await report(rv))["mismatches"]
    assert (mismatch["prescription_id"], mismatch["problem"], mismatch["recorded"], mismatch["rerun"]) == \
        (str(pid), "different findings", ["format.max_drugs"], [])
    url = f"sqlite+aiosqlite:///{tmp_path}/svc.db"
    assert await asyncio.to_thread(rerun.main, ["--db", url]) == 1
    assert "MISMATCH" in capsys.readouterr().out


async def test_unknown_packs_formularies_stores_and_callers_are_refused(rv, tmp_path, capsys):
    assert (await rv.client.get("/api/rerun?pack=1999.1", headers=rv.rph)).status_code == 404
    assert (await rv.client.get("/api/rerun?formulary=1999.1", headers=rv.rph)).status_code == 404
    doctor = rv.auth(rv.ids.secrets.tokens["dr-wang"])
    assert (await rv.client.get("/api/rerun", headers=doctor)).status_code == 403
    assert await asyncio.to_thread(rerun.main, ["--db", f"sqlite+aiosqlite:///{tmp_path}/none.db"]) == 2
    assert "no review store" in capsys.readouterr().err
    assert not (tmp_path / "none.db").exists()
