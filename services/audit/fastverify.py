"""A verifier that accepts exactly what events.verifier accepts, at close to the cost of Ed25519 alone.

events.verifier re-serialises every message with a pure-Python RFC 8785 encoder, which costs
more than the signature check itself. Producers put canonical bytes on the wire, so for them
the signed bytes are the message minus its signature member. The shortcut is taken only when
it provably gives the same bytes: the message must equal its own canonical form, and the JSON
must hold nothing where Python's encoder and RFC 8785 could differ (floats, NaN, integers
beyond 2^53, keys outside the Basic Multilingual Plane, whose sort order differs in UTF-16).
Anything else, and every refusal, goes through events.verifier, so reasons are its reasons.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError
from pydantic_core import from_json

from events.authority import AUTHORITY, Permission
from events.canonical import canonical_bytes
from events.catalog import DEFAULT_CATALOG, Catalog
from events.envelope import ENVELOPE_FIELDS, MAX_MESSAGE_BYTES
from events.keyring import Keyring
from events.rejection import Reason, Rejected
from events.signing import verify_signature
from events.verifier import MAX_CLOCK_SKEW, Accepted, Verifier, _binding_problem

log = logging.getLogger(__name__)

SignatureCheck = Callable[[Ed25519PublicKey, str, bytes], bool]

_FIELDS = frozenset(ENVELOPE_FIELDS)
_BELOW_ASTRAL = bytes(range(0xF0))  # delete these, and what is left are lead bytes of 4-byte UTF-8
_SIGNATURE_MEMBER = b',"signature":"'
# The C encoder behind json.dumps, called directly (its wrapper costs as much as the work on a
# message of a kilobyte); pydantic-core's parser reads JSON about twice as fast as json.loads.
_ENCODE = c_make_encoder(None, None, encode_basestring, None, ":", ",", True, False, False)


# Numbers RFC 8785 may spell differently from Python: fractions, exponents, integers beyond 2^53.
# A number token sits between ':' ',' or '[' and ',' '}' or ']'; text inside a string can look
# the same (a timestamp's "08:30:00.000000Z" does not: it ends in Z), which only costs the slow path.
_NOT_PLAIN_NUMBER = re.compile(rb"[:,\[]-?(?:\d{16}|\d+[.eE][0-9eE+-]*[,}\]])")


def canonical_object(raw: bytes) -> dict[str, Any] | None:
    """The parsed object when raw is exactly its own RFC 8785 form (and plain), else None."""
    if raw.translate(None, _BELOW_ASTRAL) or _NOT_PLAIN_NUMBER.search(raw):
        return None
    try:
        obj = from_json(raw, allow_inf_nan=False)
        if type(obj) is not dict or "".join(_ENCODE(obj, 0)) != raw.decode("utf-8"):
            return None
    except (ValueError, RecursionError, TypeError):
        return None
    return obj


def fast_canonical(value: Any) -> bytes:
    """RFC 8785 bytes of a JSON value: Python's encoder when provably equal, rfc8785 otherwise."""
    try:
        text = "".join(_ENCODE(value, 0)).encode()
    except (TypeError, ValueError):
        return canonical_bytes(value)
    return text if canonical_object(text) is not None else canonical_bytes(value)


def without_signature(raw: bytes, signature: str) -> bytes | None:
    """Canonical bytes minus the top-level signature member: what the signer signed."""
    # Keys are sorted, so the envelope's own signature member comes after the payload (whose
    # nested keys could also be called signature): the last match is the envelope's.
    at = raw.rfind(_SIGNATURE_MEMBER)
    sig = signature.encode()
    end = at + len(_SIGNATURE_MEMBER) + len(sig)
    if at < 0 or raw[at + len(_SIGNATURE_MEMBER):end] != sig or raw[end:end + 1] != b'"':
        return None
    return raw[:at] + raw[end + 1:]


def safe_verify(verifier: Verifier, raw: bytes, received_at: datetime | None) -> Accepted | Rejected:
    """events.verifier, turning its rare crashes into a rejection: a ledger must not stall."""
    try:
        return verifier.verify(raw, received_at)
    except Exception as exc:  # e.g. rfc8785 refusing an integer beyond 2^53 inside the payload
        log.warning("verifier raised on a message: %r", exc)
        return Rejected(Reason.NOT_JSON, f"cannot be canonicalised (RFC 8785): {exc}"[:300])


class FastVerifier:
    """Same verdicts as events.verifier.Verifier on the same keyring; much faster on canonical input."""

    def __init__(
        self,
        keyring: Keyring,
        max_clock_skew: timedelta | None = MAX_CLOCK_SKEW,
        catalog: Catalog = DEFAULT_CATALOG,
        authority: dict[str, Permission] = AUTHORITY,
        check_signature: SignatureCheck = verify_signature,
    ) -> None:
        self.keyring, self.max_clock_skew = keyring, max_clock_skew
        self.catalog, self.authority, self.check_signature = catalog, authority, check_signature
        self.slow = Verifier(keyring, catalog=catalog, max_clock_skew=max_clock_skew, authority=authority)
        self.fast_hits = 0

    def verify(self, raw: bytes, received_at: datetime | None = None) -> Accepted | Rejected:
        """Check one message; never raises for bad input."""
        accepted = self.fast(raw, received_at)
        if accepted is not None:
            self.fast_hits += 1
            return accepted
        return safe_verify(self.slow, raw, received_at)

    def fast(self, raw: bytes, received_at: datetime | None = None) -> Accepted | None:
        """Accepted if the shortcut applies and every check passes; None means: ask the slow path."""
        obj = canonical_object(raw) if len(raw) <= MAX_MESSAGE_BYTES else None
        if obj is None or obj.keys() != _FIELDS:
            return None
        kind, version = obj["type"], obj["schema_version"]
        model = self.catalog.envelopes.get(kind) if type(kind) is str else None
        if model is None or type(version) is not int or version != self.catalog.current_version(kind):
            return None  # upcasting, and every odd case, stays with the slow path
        try:
            event = model.__pydantic_validator__.validate_python(obj)
        except ValidationError:
            return None
        key = self.keyring.get(event.key_id)
        if key is None or key.actor_id != event.actor or not key.valid_at(event.occurred_at):
            return None
        signed = without_signature(raw, event.signature)
        if signed is None or not self.check_signature(key.public_key, event.signature, signed):
            return None
        skew = self.max_clock_skew
        if received_at is not None and skew is not None and received_at - event.occurred_at > skew:
            return None
        permission = self.authority.get(kind)
        if permission is None or event.producer != permission.producer or key.role not in permission.roles:
            return None
        if _binding_problem(event, key.org_id):
            return None
        return Accepted(event, raw)
