"""The rules released in pack 2026.11.1 (validity, format): a prescription that fires each and one
that does not. The rules added in 2026.12.1 are in test_review_rules_clinical.py."""

from __future__ import annotations

from datetime import timedelta

import pytest

from events.schemas import Item
from services.review import rules
from services.review.rules import Facts, formatting, validity
from tests.factories import T0, issued

ISSUED_AT = T0 + timedelta(minutes=1)


class Formulary:
    """A formulary that knows only the codes it is given."""

    version = "test"

    def __init__(self, *codes: str) -> None:
        self.codes = set(codes)

    def drug(self, code: str) -> object | None:
        return {"code": code} if code in self.codes else None


KNOWN = Formulary("C08CA01-TAB-5MG")


@pytest.fixture
def rx(identities):
    return issued(identities.signer("dr-wang"))


def facts(rx, *, now=ISSUED_AT + timedelta(minutes=1), issued_at=ISSUED_AT, formulary=KNOWN) -> Facts:
    return Facts(rx, issued_at, now, formulary)


def ids(found) -> list[str]:
    return [f.rule_id for f in found]


def drugs(rx, n: int):
    item = rx.items[0]
    return rx.model_copy(update={"items": tuple(item.model_copy(update={"drug_name": f"药{i}"}) for i in range(n))})


V1 = rules.pack("2026.11.1")


def test_a_clean_prescription_has_no_findings(rx):
    assert V1.run(facts(rx)) == ()


def test_validity_days_fires_outside_one_to_three(rx):
    # The schema forbids it today; the rule still holds if an upcaster ever lets one through.
    assert ids(validity.validity_days(facts(rx.model_copy(update={"valid_days": 5})))) == ["validity.days"]
    assert validity.validity_days(facts(rx.model_copy(update={"valid_days": 3}))) == []


def test_validity_window_fires_when_valid_until_outruns_valid_days(rx):
    long = rx.model_copy(update={"valid_until": ISSUED_AT + timedelta(days=2)})
    [found] = validity.validity_window(facts(long))
    assert (found.rule_id, found.severity, found.clause) == ("validity.window", "block", "处方管理办法 第十八条")
    three = rx.model_copy(update={"valid_days": 3, "valid_until": ISSUED_AT + timedelta(days=2)})
    assert validity.validity_window(facts(three)) == []


def test_validity_window_fires_when_valid_until_precedes_the_issue(rx):
    before = rx.model_copy(update={"valid_until": ISSUED_AT - timedelta(seconds=1)})
    assert ids(validity.validity_window(facts(before))) == ["validity.window"]


def test_not_expired_fires_once_valid_until_has_passed(rx):
    assert ids(validity.not_expired(facts(rx, now=rx.valid_until))) == ["validity.expired"]
    assert validity.not_expired(facts(rx, now=rx.valid_until - timedelta(seconds=1))) == []


def test_max_drugs_fires_above_five(rx):
    [found] = formatting.max_drugs(facts(drugs(rx, 6)))
    assert (found.rule_id, found.clause, found.severity) == ("format.max_drugs", "处方管理办法 第六条", "block")
    assert formatting.max_drugs(facts(drugs(rx, 5))) == []


def test_known_drugs_fires_per_unknown_item(rx):
    extra = Item(**{**rx.items[0].model_dump(), "drug_code": "NOPE-001", "drug_name": "未知药"})
    found = formatting.known_drugs(facts(rx.model_copy(update={"items": (rx.items[0], extra)})))
    assert [(f.rule_id, f.item_index, f.severity) for f in found] == [("formulary.unknown_drug", 1, "pharmacist")]
    assert formatting.known_drugs(facts(rx)) == []


def test_every_finding_cites_a_clause_and_the_pack_has_a_version(rx):
    bad = drugs(rx, 6).model_copy(update={"valid_until": ISSUED_AT + timedelta(days=3)})
    found = V1.run(facts(bad, now=bad.valid_until, formulary=Formulary()))
    assert set(ids(found)) == {"validity.window", "validity.expired", "format.max_drugs", "formulary.unknown_drug"}
    assert all(f.clause.startswith("处方管理办法") for f in found)
    assert V1.version == "2026.11.1" and V1.upper_review == frozenset()
