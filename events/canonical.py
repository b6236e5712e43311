"""Canonical JSON (RFC 8785, JCS): the exact bytes a signature covers."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any

import rfc8785

SIGNATURE_FIELD = "signature"


class DuplicateKeyError(ValueError):
    """A JSON object names the same key twice: two readers could see two meanings."""


def canonical_bytes(value: Any) -> bytes:
    """Return the RFC 8785 canonical serialisation of a JSON value."""
    # Python's C encoder writes RFC 8785 exactly for "plain" values (below), about three times
    # faster than the pure-Python reference (21 against 65 µs for an issued prescription); it was
    # the largest cost of verifying an event. Anything else (big integers, tiny or huge floats,
    # non-ASCII keys) takes the reference.
    try:
        plain = _plain_value(value)
        if plain is not _NOT_PLAIN:
            return sorted_compact(plain).encode()
    except (RecursionError, UnicodeEncodeError):  # deep nesting, lone surrogates: the reference decides
        pass
    return rfc8785.dumps(value)


_SAFE_INT = 2**53  # beyond it RFC 8785 writes numbers as ECMAScript doubles do
_NOT_PLAIN = object()


def _plain_value(value: Any) -> Any:
    """value as json should encode it to get its RFC 8785 form, or _NOT_PLAIN.

    Plain: strings, booleans, null, integers of magnitude below 2^53, floats that ECMAScript
    writes as Python does (between 1e-4 and 1e16, not whole: both write the shortest digits
    that round-trip, in fixed notation), whole floats below 2^53 (written as the integer, as
    ECMAScript does), and lists and objects of those with ASCII keys (sorting by UTF-16 code
    units, as RFC 8785 does, and by code points, as Python does, agree on ASCII).
    """
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return value
    if kind is int:
        return value if -_SAFE_INT < value < _SAFE_INT else _NOT_PLAIN
    if kind is float:
        if value.is_integer():
            return int(value) if -_SAFE_INT < value < _SAFE_INT else _NOT_PLAIN
        return value if 1e-4 <= abs(value) < 1e16 else _NOT_PLAIN
    if kind is dict:
        out = {}
        for k, v in value.items():
            if type(k) is not str or not k.isascii() or (v := _plain_value(v)) is _NOT_PLAIN:
                return _NOT_PLAIN
            out[k] = v
        return out
    if kind is list:
        items = [_plain_value(v) for v in value]
        return _NOT_PLAIN if any(v is _NOT_PLAIN for v in items) else items
    return _NOT_PLAIN


def canonical_with_signature(envelope: dict[str, Any], sign: Callable[[bytes], str]) -> bytes:
    """Canonical bytes of envelope plus SIGNATURE_FIELD = sign(signed_part(envelope)).

    The same bytes as canonicalising the signed part and then the signed envelope, at a third
    less of the cost (sealing is most of an append): the signed part is encoded once, by the C
    encoder, and checked on its bytes (plain, below) instead of walking the values beforehand;
    the signature member is then spliced in where the sorted keys put it. Keys must be strings,
    as in anything parsed from JSON or dumped by pydantic in JSON mode: json would spell a key 1
    as "1", where RFC 8785 has no spelling for it.
    """
    unsigned = {k: v for k, v in envelope.items() if k != SIGNATURE_FIELD}
    try:
        signed = sorted_compact(unsigned).encode()
    except (TypeError, ValueError, RecursionError):  # not JSON, NaN, lone surrogates, deep nesting
        signed = None
    if signed is not None and plain(signed):
        # Sorted, the object is the members keyed before "signature", then those after (`after`,
        # encoded alone as they are inside the whole): the signature member goes between them.
        after = sorted_compact({k: v for k, v in unsigned.items() if k > SIGNATURE_FIELD}).encode()[1:-1]
        member = b'"' + SIGNATURE_FIELD.encode() + b'":' + encode_basestring(sign(signed)).encode()
        if after:
            cut = len(signed) - 1 - len(after)
            return signed[:cut] + member + b"," + signed[cut:]
        return signed[:-1] + (b"," if len(signed) > 2 else b"") + member + b"}"
    return canonical_bytes({**unsigned, SIGNATURE_FIELD: sign(canonical_bytes(unsigned))})


# The C encoder behind json.dumps, built once and called directly (the wrapper, which builds one
# on every call, costs as much as the work on a message of a kilobyte): keys sorted, compact and
# UTF-8 as is, RFC 8785's layout; no NaN; anything that is not JSON refused (TypeError). Its string
# escapes (the short forms for \b \t \n \f \r, lowercase \u00xx for other controls, nothing
# else escaped) are RFC 8785's too.
_SORTED_COMPACT = c_make_encoder(None, None, encode_basestring, None, ":", ",", True, False, False)


def sorted_compact(value: Any) -> str:
    """json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False,
    check_circular=False): a cycle raises RecursionError."""
    return "".join(_SORTED_COMPACT(value, 0))


# Numbers RFC 8785 may spell differently from Python: fractions, exponents, integers beyond 2^53.
# In a compact message a number sits between ':' ',' or '[' and ',' '}' or ']'. With digits
# spelled 0, signs deleted, e and E spelled '.', and every one of those marks spelled ',', a
# fraction or an exponent shows as ",0…." up to the next ',', and 16 digits (maybe beyond 2^53) as
# ",0000000000000000". Text in a string can look the same, which only costs the slow path. (One
# translation and a search for a literal ',' cost a third of a regular expression over the raw
# message.) Lead bytes of 4-byte UTF-8 are spelled 0xff: keys outside the Basic Multilingual
# Plane sort differently in UTF-16.
_MARKS = bytes.maketrans(b"0123456789eE:[}]" + bytes(range(0xF0, 0x100)), b"0000000000..,,,," + b"\xff" * 16)
_ODD_NUMBER = re.compile(rb",0(?:0*\.[0.]*,|0{15})")


def plain(raw: bytes) -> bool:
    """No float, no integer that might exceed 2^53, no astral character (see above)."""
    marks = raw.translate(_MARKS, b"+-")
    return marks.find(b"\xff") < 0 and _ODD_NUMBER.search(marks) is None


def signed_part(envelope: dict[str, Any]) -> bytes:
    """Canonical bytes of everything in an envelope except its signature."""
    return canonical_bytes({k: v for k, v in envelope.items() if k != SIGNATURE_FIELD})


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise DuplicateKeyError(f"duplicate key {key!r}")
        obj[key] = value
    return obj


def _reject_constant(token: str) -> Any:
    # NaN and Infinity are not JSON (RFC 8259) and RFC 8785 cannot canonicalise them.
    raise ValueError(f"{token} is not valid JSON")


def strict_loads(raw: bytes) -> Any:
    """Parse UTF-8 JSON, refusing duplicate keys and NaN/Infinity."""
    text = raw.decode("utf-8")  # strict: invalid UTF-8 is not JSON (RFC 8259 section 8.1)
    return json.loads(text, object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant)
