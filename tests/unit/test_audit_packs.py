"""The regulator's view of packs: a trace code held by one prescription, dispensed on another."""

from __future__ import annotations

from services.audit.packs import PackLedger, PackUse


def at(minute: int) -> str:
    return f"2026-11-20T08:{minute:02d}:00.000000Z"


def use(minute: int, prescription: str, line: int | None = None, split: bool = False) -> PackUse:
    return PackUse(minute if line is None else line, prescription, f"e{minute}", "ph-county", at(minute),
                   "pharm-county", split)


def reuses(uses: dict[str, list[PackUse]], returned: dict[str, int] | None = None) -> list[tuple[str, str, str]]:
    ledger = PackLedger({code: list(u) for code, u in uses.items()},
                        {rx: at(minute) for rx, minute in (returned or {}).items()})
    return [(r.trace_code, r.holder.prescription_id, r.again.prescription_id) for r in ledger.reuses()]


def test_a_pack_dispensed_on_a_second_prescription_is_a_reuse_each_time():
    assert reuses({"P": [use(9, "c"), use(1, "a"), use(5, "b")]}) == [("P", "a", "b"), ("P", "a", "c")]


def test_the_signed_times_order_prescriptions_not_the_lines_of_different_partitions():
    assert reuses({"P": [use(1, "a", line=700), use(5, "b", line=20)]}) == [("P", "a", "b")]


def test_a_pack_back_from_a_returned_delivery_may_leave_again():
    uses = {"P": [use(1, "a"), use(5, "b"), use(9, "c")]}
    assert reuses(uses, {"a": 3}) == [("P", "b", "c")]
    # Back only after the second dispense: that one is a reuse. The third finds the pack back on
    # the shelf, and is none.
    assert reuses(uses, {"a": 7}) == [("P", "a", "b")]


def test_parts_of_an_opened_pack_share_its_code_but_it_cannot_also_leave_whole():
    opened = [use(1, "a", split=True), use(5, "b", split=True)]
    assert reuses({"P": opened}) == []
    assert reuses({"P": [*opened, use(9, "c")]}) == [("P", "a", "c")]
    assert reuses({"P": [use(1, "a"), use(5, "b", split=True)]}) == [("P", "a", "b")]


def test_one_prescription_dispensed_twice_is_not_a_pack_reuse_and_ledgers_merge():
    assert reuses({"P": [use(1, "a"), use(4, "a")]}) == []
    left = PackLedger({"P": [use(1, "a")]})
    right = PackLedger({"P": [use(5, "b")], "Q": [use(6, "b")]}, {"b": at(8)})
    assert [(r.trace_code, r.holder.prescription_id, r.again.line) for r in left.merge(right).reuses()] == [
        ("P", "a", 5)]
