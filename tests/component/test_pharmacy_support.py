"""Helpers for the pharmacy component tests: upstream histories, requests, counts (no tests here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import func, select

from events.identities import Identities
from events.privacy import pickup_code_hash
from events.schemas import Channel, Finding, PrescriptionApproved, PrescriptionRejected, ReviewFlagged, ReviewPassed
from services.kit import tables
from tests.component.harness import Running
from tests.factories import StreamWriter, cancelled, issued

CODE = "K7P2QX9M"
RULES = "2026.11"
PHARMACISTS = ("ph-county", "ph-renhe", "ph-kangning", "ph-baishou")
LINES = [{"item_index": 0, "drug_code": "C08CA01-TAB-5MG", "quantity": "1", "batch_no": "B20261101",
          "trace_codes": ["81234567890123456789"]}]


@dataclass
class History:
    """One prescription's upstream events, written as prescriber and review would."""

    ids: Identities
    channel: Channel = Channel.HOSPITAL
    pharmacy_id: str | None = "pharm-county"
    pid: UUID = field(default_factory=uuid4)
    raws: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.writer = StreamWriter(self.pid)
        self.doctor, self.review = self.ids.signer("dr-wang"), self.ids.signer("svc-review")
        payload = issued(self.doctor, self.pid, channel=self.channel, pharmacy_id=self.pharmacy_id)
        code_hash = pickup_code_hash(self.ids.secrets.pickup_pepper, CODE)  # type: ignore[union-attr]
        self.emit(payload.model_copy(update={"pickup_code_hash": code_hash}), "prescriber", self.doctor)

    def emit(self, payload: Any, producer: str, signer: Any) -> bytes:
        raw = self.writer.emit(payload, producer, signer)
        self.raws.append(raw)
        return raw

    def approved(self) -> History:
        self.emit(ReviewPassed(prescription_id=self.pid, rule_pack_version=RULES), "review", self.review)
        self.emit(PrescriptionApproved(prescription_id=self.pid, reviewer_id="svc-review", automatic=True,
                                       rule_pack_version=RULES), "review", self.review)
        return self

    def rejected(self) -> History:
        finding = Finding(rule_id="max-drugs", clause="处方管理办法 第六条", severity="pharmacist",
                          message_zh="药品超过5种", message_en="more than 5 drugs")
        self.emit(ReviewFlagged(prescription_id=self.pid, rule_pack_version=RULES, findings=(finding,)),
                  "review", self.review)
        pharmacist = self.ids.signer("rph-zhao")
        self.emit(PrescriptionRejected(prescription_id=self.pid, reviewer_id="rph-zhao", reason="超量"),
                  "review", pharmacist)
        return self

    def cancel(self) -> bytes:
        return self.emit(cancelled(self.doctor, self.pid), "prescriber", self.doctor)

    async def publish(self, ph: Running, raws: list[bytes] | None = None) -> History:
        for raw in self.raws if raws is None else raws:
            await ph.publish(raw, key=str(self.pid))
        return self


def reason(resp: Any) -> str:
    assert resp.status_code == 409, resp.text
    return resp.json()["detail"]["reason"]


async def act(ph: Running, pid: UUID, what: str, who: str, body: Any = None) -> Any:
    """POST claim / release / dispense as a pharmacist."""
    return await ph.client.post(f"/api/prescriptions/{pid}/{what}", json=body, headers=ph.tokens[who])


def lines_with(*trace_codes: str) -> list[dict[str, Any]]:
    """LINES carrying these trace codes: a pack is dispensed once, so each prescription needs its own."""
    return [{**LINES[0], "trace_codes": list(trace_codes)}]


def codes_of(pid: UUID) -> str:
    """A 20-digit trace code of this prescription alone."""
    return f"8{pid.int % 10**19:019d}"


async def dispense(ph: Running, pid: UUID, who: str, **body: Any) -> Any:
    return await act(ph, pid, "dispense", who, {"pickup_code": CODE, "lines": lines_with(codes_of(pid)), **body})


async def lookup(ph: Running, who: str, code: str) -> list[str]:
    resp = await ph.client.post("/api/orders/lookup", json={"pickup_code": code}, headers=ph.tokens[who])
    assert resp.status_code == 200, resp.text
    assert all("pickup_code_hash" not in hit for hit in resp.json())
    return [hit["prescription_id"] for hit in resp.json()]


async def listed(ph: Running, who: str) -> list[str]:
    resp = await ph.client.get("/api/orders", headers=ph.tokens[who])
    assert resp.status_code == 200, resp.text
    return [o["prescription_id"] for o in resp.json()]


async def status(ph: Running, pid: UUID) -> str:
    return str((await ph.service.state(str(pid))).status)


async def rows(ph: Running, table: Any, event_type: str) -> list[Any]:
    """Rows of a kit table (events, inbox) holding one event type, in order."""
    async with ph.service.db.read() as s:
        return list(await s.execute(select(table).where(table.c.type == event_type).order_by(table.c.position)))


async def count(ph: Running, table: Any) -> int:
    async with ph.service.db.read() as s:
        return (await s.execute(select(func.count()).select_from(table))).scalar_one()


async def counts(ph: Running) -> tuple[int, int]:
    """Events decided and events consumed: what a refusal must not change."""
    return (await count(ph, tables.events), await count(ph, tables.inbox))
