"""What a regulator looks for in the folded log: violations, overrides, failures, and the figures.

Each worker keeps its own accumulator over the prescriptions it folds; the accumulators merge.
A void dispense is still a pharmacist's signed statement that drugs left the shelf, so it is
where double dispensing and dispensing after cancellation show.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from events.envelope import Envelope
from events.lifecycle import Status
from events.schemas import format_utc
from services.audit.folding import StreamFold, Track
from services.audit.packs import PackLedger

EXAMPLES = 50
S = Status
VOID_DISPENSE = {  # state a dispense arrived in -> what it was
    None: "dispensed_without_approval", S.ISSUED: "dispensed_without_approval", S.PASSED: "dispensed_without_approval",
    S.FLAGGED: "dispensed_without_approval", S.REJECTED: "dispensed_without_approval",
    S.CANCELLED: "dispensed_after_cancellation", S.EXPIRED: "dispensed_after_expiry",
    S.APPROVED: "dispensed_without_claim", S.CLAIMED: "dispensed_without_claim",
}
CATEGORIES = ("dispensed_without_approval", "dispensed_twice", "dispensed_after_cancellation",
              "dispensed_after_expiry", "dispensed_without_claim", "trace_code_reused", "controlled_outside_hospital",
              "pharmacist_overrides", "failed_deliveries", "void_events")


def _restricted(code: str) -> bool:
    """Narcotics, psychotropics and drugs barred from online sale stay in the hospital (DESIGN.md)."""
    from services.review.formulary import load_formulary

    drug = load_formulary().drug(code)
    return drug is not None and (drug.controlled is not None or drug.online_sale_prohibited)


class ReportAcc:
    """Counts and first examples of everything the report shows."""

    def __init__(self) -> None:
        self.counts: dict[str, Counter[str]] = {k: Counter() for k in (
            "issued_per_clinic", "dispensed_per_pharmacy", "channels", "dispensed_by_kind", "status",
            "void_by_kind")}
        self.found: dict[str, int] = Counter()
        self.examples: dict[str, list[dict[str, Any]]] = {k: [] for k in CATEGORIES}
        self.packs = PackLedger()

    def note(self, category: str, line: int, event: Envelope[Any], detail: str) -> None:
        """Count one finding and keep it as an example if it is among the first."""
        self.found[category] += 1
        if len(self.examples[category]) < EXAMPLES:
            self.examples[category].append({
                "line": line + 1, "prescription_id": event.stream_id, "event_id": str(event.event_id),
                "type": event.type, "actor": event.actor, "occurred_at": format_utc(event.occurred_at),
                "detail": detail})

    def observe(self, before: Track, event: Envelope[Any], void: str | None, line: int) -> None:
        """One fold step, before it is applied (a StreamFold observer); void says why it will not be."""
        p, kind = event.payload, event.type
        if void is not None:
            self.note("void_events", line, event, void)
            self.counts["void_by_kind"][f"{kind} @ {before.status or 'none'}"] += 1
        if kind == "prescription.dispensed":
            self._dispensed(before, event, void, line)
        elif void is not None:
            return
        elif kind == "prescription.issued":
            self.counts["issued_per_clinic"][p.clinic_id] += 1
            self.counts["channels"][p.channel.value] += 1
        elif kind == "prescription.approved" and p.overrides:
            rules = "、".join(f"{o.rule_id}：{o.reason}" for o in p.overrides)
            self.note("pharmacist_overrides", line, event, f"{p.reviewer_id} 越过 {rules}")
        elif kind == "delivery.failed":
            self.note("failed_deliveries", line, event, p.reason)
        elif kind == "delivery.returned":
            self.packs.came_back(event)

    def _dispensed(self, before: Track, event: Envelope[Any], void: str | None, line: int) -> None:
        p = event.payload
        self.packs.dispensed(event, line)  # void or not, a pharmacist signed that these packs left
        if void is not None:
            status = before.status
            category = VOID_DISPENSE.get(status, "dispensed_twice")  # every state after a dispense
            self.note(category, line, event, f"{p.pharmacy_id} 在 {status or '未开具'} 状态下发药")
        else:
            self.counts["dispensed_per_pharmacy"][p.pharmacy_id] += 1
            self.counts["dispensed_by_kind"][p.pharmacy_kind] += 1
            issued = before.issued
            if issued is not None and event.occurred_at > issued.valid_until:
                self.note("dispensed_after_expiry", line, event,
                          f"有效期至 {format_utc(issued.valid_until)}，{format_utc(event.occurred_at)} 发药")
        codes = [line_.drug_code for line_ in p.lines]
        if p.pharmacy_kind == "retail" and (bad := [c for c in codes if _restricted(c)]):
            self.note("controlled_outside_hospital", line, event, f"零售药店 {p.pharmacy_id} 发出 {'、'.join(bad)}")

    def finish(self, fold: StreamFold) -> ReportAcc:
        """Add the final state of every prescription this accumulator's fold saw."""
        self.counts["status"].update(str(t.status) for t in fold.tracks.values() if t.version)
        return self

    def merge(self, other: ReportAcc) -> ReportAcc:
        for key, counter in other.counts.items():
            self.counts[key].update(counter)
        self.found.update(other.found)
        self.packs.merge(other.packs)
        for key, rows in other.examples.items():
            self.examples[key] = sorted([*self.examples[key], *rows], key=lambda r: r["line"])[:EXAMPLES]
        return self

    def to_dict(self) -> dict[str, Any]:
        """Figures and findings as plain JSON."""
        channels = self.counts["channels"]
        total = sum(channels.values()) or 1
        return {
            "figures": {
                "prescriptions": sum(self.counts["status"].values()),
                "by_status": dict(self.counts["status"].most_common()),
                "issued_per_clinic": dict(self.counts["issued_per_clinic"].most_common()),
                "dispensed_per_pharmacy": dict(self.counts["dispensed_per_pharmacy"].most_common()),
                "dispensed_by_pharmacy_kind": dict(self.counts["dispensed_by_kind"].most_common()),
                "channels": {c: {"count": n, "share": round(n / total, 4)} for c, n in channels.most_common()},
                "void_by_kind": dict(self.counts["void_by_kind"].most_common()),
            },
            "findings": {k: {"count": self.found[k], "examples": self.examples[k]} for k in CATEGORIES}
            | {"trace_code_reused": self._reused_packs()},
        }

    def _reused_packs(self) -> dict[str, Any]:
        # Drawn here, once every worker's packs have merged: a pack crosses prescriptions.
        found = sorted(self.packs.reuses(), key=lambda r: (r.again.occurred_at, r.again.line))
        return {"count": len(found), "examples": [{
            "line": r.again.line + 1, "prescription_id": r.again.prescription_id, "event_id": r.again.event_id,
            "type": "prescription.dispensed", "actor": r.again.actor, "occurred_at": r.again.occurred_at,
            "detail": f"追溯码 {r.trace_code} 已于 {r.holder.occurred_at} 由 {r.holder.pharmacy_id} 随处方 "
                      f"{r.holder.prescription_id}（第 {r.holder.line + 1} 行）发出，{r.again.pharmacy_id} 再次发出"}
            for r in found[:EXAMPLES]]}
