"""The demo: prescriptions across every channel and outcome, then a table of final states."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from infra.demo_client import Api, DemoError
from infra.demo_scenarios import DOCTORS, EXPECTED, PHARMACIST, deliver, fill, form

SCENARIOS = tuple(EXPECTED)


async def _review(api: Api, pid: str, approve: bool) -> None:
    """A pharmacist decides a flagged prescription: overrides each finding with a reason, or rejects."""
    found = await api.until(lambda: api.status_in("review", pid, "rph-zhao", "flagged"), f"{pid} flagged")
    if not approve:
        await api.call("review", "POST", f"/api/prescriptions/{pid}/reject", "rph-sun",
                       {"reason": "药品品种超过5种，请拆分处方后重新开具"})
        return
    overrides = [{"rule_id": f["rule_id"], "reason": "慢病多药联用，已与开方医师电话确认"}
                 for f in found.get("findings", []) if f["severity"] in ("block", "pharmacist")]
    await api.call("review", "POST", f"/api/prescriptions/{pid}/approve", "rph-zhao",
                   {"overrides": overrides, "note": "已核对"})


async def play(api: Api, n: int, scenario: str) -> tuple[str, str, str]:
    """Issue one prescription and take it through its scenario; returns (id, scenario, doctor)."""
    doctor = DOCTORS[n % len(DOCTORS)]
    body = form(n, scenario)
    issued = await api.call("prescriber", "POST", "/api/prescriptions", doctor, body)
    pid, code = issued["prescription_id"], issued["pickup_code"]
    pharmacy = body["pharmacy_id"] or "pharm-kangning"
    if scenario in ("flagged_approved", "rejected"):
        await _review(api, pid, approve=scenario == "flagged_approved")
    if scenario == "cancelled":
        await api.until(lambda: api.status_in("prescriber", pid, doctor, "approved"), f"{pid} approved")
        await api.call("prescriber", "POST", f"/api/prescriptions/{pid}/cancel", doctor, {"reason": "患者要求更换药物"})
    elif scenario == "any_designated":
        await api.until(lambda: api.status_in("pharmacy", pid, "ph-kangning", "approved"), f"{pid} approved")
        hits = await api.call("pharmacy", "POST", "/api/orders/lookup", "ph-kangning", {"pickup_code": code})
        if not any(h["prescription_id"] == pid for h in hits):
            raise DemoError(f"pickup code of {pid} not found at pharm-kangning")
        await fill(api, pid, code, pharmacy)
    elif scenario == "released":
        staff = PHARMACIST[pharmacy]
        await api.until(lambda: api.status_in("pharmacy", pid, staff, "approved"), f"{pid} approved")
        await api.call("pharmacy", "POST", f"/api/prescriptions/{pid}/claim", staff)
        await api.call("pharmacy", "POST", f"/api/prescriptions/{pid}/release", staff, {"reason": "缺货，已调货"})
        await fill(api, pid, code, pharmacy)
    elif scenario in ("hospital", "retail", "flagged_approved"):
        await fill(api, pid, code, pharmacy)
    elif scenario in ("delivered", "delivery_failed"):
        await fill(api, pid, code, pharmacy, pickup=False)
        courier = "courier-1" if scenario == "delivered" else "courier-2"
        await deliver(api, pid, code, courier, fail=scenario == "delivery_failed")
    return pid, scenario, doctor


async def final_states(api: Api) -> dict[str, dict[str, Any]]:
    """Every prescription as the prescriber shows it to its doctor."""
    rows: dict[str, dict[str, Any]] = {}
    for doctor in DOCTORS:
        for row in await api.call("prescriber", "GET", "/api/prescriptions?limit=500", doctor):
            rows[row["prescription_id"]] = row
    return rows


async def run_demo(urls: dict[str, str], tokens: dict[str, str], count: int,
                   time_travel: Callable[[float], Awaitable[None]],
                   concurrency: int = 8) -> list[tuple[str, str, str, str]]:
    """Play count prescriptions; expire the leftovers by time travel; return (id, scenario, expected, actual)."""
    api = Api(urls, tokens)
    gate = asyncio.Semaphore(concurrency)

    async def bounded(n: int) -> tuple[str, str, str]:
        async with gate:
            return await play(api, n, SCENARIOS[n % len(SCENARIOS)])

    try:
        played = await asyncio.gather(*(bounded(n) for n in range(count)))
        # Validity is counted in days (处方管理办法 第十八条); the demo moves the pharmacy's clock
        # four days on to show expiry, then back.
        await time_travel(4 * 86400)
        for pid, _, doctor in (p for p in played if p[1] == "expired"):
            await api.until(lambda p=pid, d=doctor: api.status_in("prescriber", p, d, "expired"), f"{pid} expired", 60)
        await time_travel(0)
        # Every service converges through the log; a state that never arrives shows as a mismatch.
        with contextlib.suppress(DemoError):
            await api.until(lambda: _settled(api, played), "final states", 30)
        states = await final_states(api)
        return [(pid, s, EXPECTED[s], states.get(pid, {}).get("status", "missing")) for pid, s, _ in played]
    finally:
        await api.close()


async def _settled(api: Api, played: list[tuple[str, str, str]]) -> bool:
    states = await final_states(api)
    return all(states.get(pid, {}).get("status") == EXPECTED[s] for pid, s, _ in played)


def table(rows: list[tuple[str, str, str, str]]) -> str:
    """A terminal table: scenario, count, expected and actual final states."""
    by = Counter((s, e, a) for _, s, e, a in rows)
    lines = [f"{'scenario':<18} {'n':>4}  {'expected':<12} {'actual':<12}", "-" * 52]
    for (s, e, a), n in sorted(by.items()):
        mark = "" if e == a else "   <-- MISMATCH"
        lines.append(f"{s:<18} {n:>4}  {e:<12} {a:<12}{mark}")
    totals = Counter(a for *_, a in rows)
    lines += ["-" * 52, "final states: " + ", ".join(f"{k} {v}" for k, v in sorted(totals.items()))]
    return "\n".join(lines)
