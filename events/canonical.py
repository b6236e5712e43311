"""Canonical JSON (RFC 8785, JCS): the exact bytes a signature covers."""

from __future__ import annotations

import json
from collections.abc import Callable
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
        plain = _plain(value)
        if plain is not _NOT_PLAIN:
            return _ENCODE(plain).encode()
    except (RecursionError, UnicodeEncodeError):  # deep nesting, lone surrogates: the reference decides
        pass
    return rfc8785.dumps(value)


# Sorted keys, no spaces, UTF-8 as is: RFC 8785's layout. Its string escapes (the short forms
# for \b \t \n \f \r, lowercase \u00xx for other controls, nothing else escaped) are json's too.
_ENCODE = json.JSONEncoder(ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":")).encode
_SAFE_INT = 2**53  # beyond it RFC 8785 writes numbers as ECMAScript doubles do
_NOT_PLAIN = object()


def _plain(value: Any) -> Any:
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
            if type(k) is not str or not k.isascii() or (v := _plain(v)) is _NOT_PLAIN:
                return _NOT_PLAIN
            out[k] = v
        return out
    if kind is list:
        items = [_plain(v) for v in value]
        return _NOT_PLAIN if any(v is _NOT_PLAIN for v in items) else items
    return _NOT_PLAIN


def canonical_with_signature(envelope: dict[str, Any], sign: Callable[[bytes], str]) -> bytes:
    """Canonical bytes of envelope plus SIGNATURE_FIELD = sign(signed_part(envelope)).

    The same bytes as canonicalising the signed part and then the signed envelope, with the
    envelope walked once and encoded once instead of twice each (sealing is most of an append).
    """
    unsigned = {k: v for k, v in envelope.items() if k != SIGNATURE_FIELD}
    try:
        plain = _plain(unsigned)
        if plain is not _NOT_PLAIN:
            # Plain keys are ASCII, so the sorted object is its members keyed before "signature",
            # then those after: the two runs, encoded once, make both the signed bytes and the
            # signed envelope.
            head = _ENCODE({k: v for k, v in plain.items() if k < SIGNATURE_FIELD})[1:-1]
            tail = _ENCODE({k: v for k, v in plain.items() if k > SIGNATURE_FIELD})[1:-1]
            signature = f'"{SIGNATURE_FIELD}":{_ENCODE(sign(_object(head, tail).encode()))}'
            return _object(head, signature, tail).encode()
    except (RecursionError, UnicodeEncodeError):  # as in canonical_bytes: the reference decides
        pass
    return canonical_bytes({**unsigned, SIGNATURE_FIELD: sign(canonical_bytes(unsigned))})


def _object(*members: str) -> str:
    """A JSON object from runs of encoded members, some of them empty."""
    return "{" + ",".join(m for m in members if m) + "}"


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
