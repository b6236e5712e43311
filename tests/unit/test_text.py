"""Text every store keeps: NUL found wherever JSON hides it, and rejection records always storable."""

import json

import pytest

from events.rejection import Reason, Rejected
from events.text import holds_nul, storable


@pytest.mark.parametrize("text, nul", [
    ("a\x00b", True), ("\\\x00", True), ("\\\\\x00", True), ("\\u0000", False), ("\\\\u0000", False),
    ("plain", False), ("中文\x00", True),
])
def test_holds_nul_reads_escapes_as_json_does(text, nul):
    for ensure_ascii in (True, False):
        document = json.dumps({"k": text, "list": [1, text]}, ensure_ascii=ensure_ascii).encode()
        assert holds_nul(document) is nul, document
    assert holds_nul(json.dumps({text: 1}).encode()) is nul  # keys too


def test_storable_escapes_what_databases_refuse_and_keeps_the_rest():
    assert storable("氨氯地平片 ok") == "氨氯地平片 ok"
    assert storable("a\x00b\ud800c") == "a\\x00b\\ud800c"
    assert storable("a\x00b\ud800c").encode("utf-8")  # encodes: no surrogate left


def test_a_rejection_quotes_the_message_in_storable_text():
    rejected = Rejected(Reason.SCHEMA_VIOLATION, "loc \ud800: bad", "id\x00")
    assert (rejected.detail, rejected.event_id) == ("loc \\ud800: bad", "id\\x00")
    assert Rejected(Reason.NOT_JSON, "x").event_id is None
