"""Canonical bytes (RFC 8785) and strict parsing."""

import hashlib

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from events.canonical import (
    DuplicateKeyError,
    canonical_bytes,
    canonical_with_signature,
    signed_part,
    strict_loads,
)


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


# JSON values of every kind, keys included that sort differently by UTF-16 and by code point
# (astral against U+E000..U+FFFF) and integers on both sides of 2^53.
_scalars = (st.none() | st.booleans() | st.text() | st.floats(allow_nan=False, allow_infinity=False)
            | st.integers(min_value=-(2**60), max_value=2**60) | st.sampled_from([2**53 - 1, 2**53, -(2**53)]))
_keys = st.text() | st.sampled_from(["\ue000", "\U0001f600", "a\U00010000", "a\uffff", "\x7f", "é"])
_json = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=4),
                     max_leaves=20)


@settings(max_examples=600, deadline=None)
@given(_json)
def test_fast_path_writes_exactly_what_the_reference_writes(value):
    try:
        expected = rfc8785.dumps(value)
    except Exception as exc:  # the reference refuses it (a lone surrogate, an integer it cannot write)
        with pytest.raises(type(exc)):
            canonical_bytes(value)
        return
    assert canonical_bytes(value) == expected


def test_fast_path_leaves_what_it_cannot_write_to_the_reference():
    # Floats and non-ASCII keys are the reference's: same bytes either way.
    for value in ({"x": 1.5}, {"\U0001f600": 1, "\ue000": 2}, [1e21]):
        assert canonical_bytes(value) == rfc8785.dumps(value)


@settings(max_examples=3000, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False) | st.floats(min_value=1e-5, max_value=1e17))
def test_every_float_is_written_as_the_reference_writes_it(number):
    assert canonical_bytes({"dose": number, "list": [number, -number]}) == rfc8785.dumps(
        {"dose": number, "list": [number, -number]})


def _digest_signer(message: bytes) -> str:
    # Stands for a signature: any change of the signed bytes changes it.
    return hashlib.sha256(message).hexdigest()


@settings(max_examples=600, deadline=None)
@given(st.dictionaries(_keys, _json, max_size=6))
def test_one_pass_signing_writes_what_two_passes_write(envelope):
    envelope = {**envelope, "signature": "left over from before"}  # must be neither signed nor kept
    unsigned = {k: v for k, v in envelope.items() if k != "signature"}
    try:
        expected = rfc8785.dumps({**unsigned, "signature": _digest_signer(rfc8785.dumps(unsigned))})
    except Exception as exc:  # what the reference refuses, the one pass refuses too
        with pytest.raises(type(exc)):
            canonical_with_signature(envelope, _digest_signer)
        return
    assert canonical_with_signature(envelope, _digest_signer) == expected


@pytest.mark.parametrize("envelope", [
    {},
    {"a": 1},
    {"z": 1},
    {"a": {"signature": "x", "z": [1]}, "t": {"stream_id": 1, "signature": "y"}, "stream_id": "s"},
    {"signature": "stale", "payload": {"dose": 1.5}, "type": "x"},  # a float: the reference path
    {"payload": {"名": "氨氯地平", "\U0001f600": 1}, "type": "x"},  # astral key: the reference path
])
def test_the_signature_lands_where_the_sorted_keys_put_it(envelope):
    unsigned = {k: v for k, v in envelope.items() if k != "signature"}
    expected = rfc8785.dumps({**unsigned, "signature": _digest_signer(rfc8785.dumps(unsigned))})
    assert canonical_with_signature(envelope, _digest_signer) == expected
