"""Canonical bytes (RFC 8785) and strict parsing."""

import pytest

from events.canonical import DuplicateKeyError, canonical_bytes, signed_part, strict_loads


def test_keys_are_sorted_and_whitespace_removed():
    assert canonical_bytes({"b": 1, "a": [1, 2, {"d": None, "c": True}]}) == (
        b'{"a":[1,2,{"c":true,"d":null}],"b":1}'
    )


def test_numbers_follow_ecmascript_form():
    # RFC 8785 section 3.2.2.3: 1.0 is written as 1, 1e21 keeps its exponent.
    assert canonical_bytes([1.0, 1e21, 0.5]) == b"[1,1e+21,0.5]"


def test_unicode_is_kept_as_utf8_not_escaped():
    assert canonical_bytes({"name": "氨氯地平"}) == '{"name":"氨氯地平"}'.encode()


def test_key_order_of_input_does_not_change_bytes():
    assert canonical_bytes({"x": 1, "y": 2}) == canonical_bytes({"y": 2, "x": 1})


def test_signed_part_excludes_only_the_signature():
    env = {"b": 2, "signature": "abc", "a": 1}
    assert signed_part(env) == b'{"a":1,"b":2}'


def test_strict_loads_refuses_duplicate_keys():
    with pytest.raises(DuplicateKeyError):
        strict_loads(b'{"a":1,"a":2}')


@pytest.mark.parametrize("raw", [b"NaN", b'{"a":Infinity}', b"\xff\xfe"])
def test_strict_loads_refuses_non_json(raw):
    with pytest.raises(ValueError):
        strict_loads(raw)
