"""Canonical JSON (RFC 8785, JCS): the exact bytes a signature covers."""

from __future__ import annotations

import json
from typing import Any

import rfc8785

SIGNATURE_FIELD = "signature"


class DuplicateKeyError(ValueError):
    """A JSON object names the same key twice: two readers could see two meanings."""


def canonical_bytes(value: Any) -> bytes:
    """Return the RFC 8785 canonical serialisation of a JSON value."""
    return rfc8785.dumps(value)


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
