"""A verifier that accepts exactly what events.verifier accepts, at close to the cost of Ed25519 alone.

events.verifier parses every message, re-serialises it in RFC 8785 form and validates it twice
(the envelope, then the typed event), which together cost about as much as the signature
check itself; every service and the regulator's ledger read every event. Producers put
canonical bytes on the wire, so for them the signed bytes are the message minus its signature
member. The shortcut is taken only when it provably gives the same bytes: the message must
equal its own canonical form, and the JSON must hold nothing where Python's encoder and
RFC 8785 could differ (floats, NaN, integers beyond 2^53, keys outside the Basic Multilingual
Plane, whose sort order differs in UTF-16). Anything else, and every refusal, goes through
events.verifier, so reasons are its reasons.
"""

from __future__ import annotations

import binascii
import logging
import re
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from pydantic import ValidationError
from pydantic_core import from_json, to_json

from events.authority import AUTHORITY, Permission
from events.canonical import canonical_bytes, plain, sorted_compact
from events.catalog import DEFAULT_CATALOG, Catalog
from events.envelope import ENVELOPE_FIELDS, MAX_MESSAGE_BYTES, Envelope
from events.keyring import Keyring
from events.rejection import Reason, Rejected
from events.schemas import KeyRegistered, KeyRevoked
from events.signing import signature_valid, verify_signature
from events.text import holds_nul
from events.verifier import MAX_CLOCK_SKEW, Accepted, Verifier, _binding_problem

log = logging.getLogger(__name__)

SignatureCheck = Callable[[bytes, str, bytes], bool]  # raw public key, signature text, signed bytes

_FIELDS = frozenset(ENVELOPE_FIELDS)
_SIGNATURE_MEMBER = b',"signature":"'
_KEY_EVENTS = (KeyRegistered, KeyRevoked)


def canonical_object(raw: bytes) -> dict[str, Any] | None:
    """The parsed object when raw is exactly its own RFC 8785 form (and plain), else None."""
    if not plain(raw):
        return None
    try:
        obj = from_json(raw, allow_inf_nan=False)  # pydantic-core's parser: twice json.loads' speed
        # from_json keeps the order of the keys (and drops a repeated one), and pydantic-core's
        # encoder writes plain JSON as RFC 8785 does but for that order: equal bytes and keys in
        # order make raw canonical. (Three times faster than the C encoder sorting the keys.)
        if type(obj) is not dict or to_json(obj) != raw or not keys_in_order(obj):
            return None
    except (ValueError, RecursionError, TypeError):
        return None
    return obj


def keys_in_order(value: Any) -> bool:
    """Every object's keys strictly ascending (code points: UTF-16 order when plain), at any depth."""
    if type(value) is dict:
        keys = list(value)
        if keys != sorted(keys):
            return False
        values: Any = value.values()
    elif type(value) is list:
        values = value
    else:
        return True
    for item in values:
        kind = type(item)
        if (kind is dict or kind is list) and not keys_in_order(item):
            return False
    return True


def fast_canonical(value: Any) -> bytes:
    """RFC 8785 bytes of a JSON value: Python's encoder when provably equal, rfc8785 otherwise."""
    try:
        text = sorted_compact(value).encode()
    except (TypeError, ValueError):
        return canonical_bytes(value)
    return text if canonical_object(text) is not None else canonical_bytes(value)


# The one spelling events.signing.b64decode accepts for 64 bytes: 86 base64url characters, the
# last one carrying no stray bits.
_SIGNATURE_TEXT = re.compile(r"[A-Za-z0-9_-]{85}[AQgw]")
_URL_TO_STANDARD = str.maketrans("-_", "+/")


def signature_ok(key: bytes, signature: str, message: bytes) -> bool:
    """events.signing.verify_signature, decoding the usual signature text without its detours."""
    if not _SIGNATURE_TEXT.fullmatch(signature):
        return verify_signature(key, signature, message)
    return signature_valid(key, binascii.a2b_base64(signature.translate(_URL_TO_STANDARD) + "=="), message)


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
    except Exception as exc:  # a verifier bug must cost one message, not the ledger
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
        check_signature: SignatureCheck = signature_ok,
        authentic: Callable[[bytes], Envelope[Any] | None] | None = None,
    ) -> None:
        self.keyring, self.max_clock_skew = keyring, max_clock_skew
        self.catalog, self.authority, self.check_signature = catalog, authority, check_signature
        # authentic: as for events.verifier.Verifier, whose recheck() judges such bytes (the
        # regulator passes none: it checks every signature itself).
        self.authentic = authentic
        self.slow = Verifier(keyring, catalog=catalog, max_clock_skew=max_clock_skew, authority=authority)
        self.fast_hits = 0
        # What prepare() asks of every message's type, found with one look-up instead of four.
        self.types = {kind: (model.__pydantic_validator__, catalog.current_version(kind), authority.get(kind))
                      for kind, model in catalog.envelopes.items()}

    def verify(self, raw: bytes, received_at: datetime | None = None) -> Accepted | Rejected:
        """Check one message; never raises for bad input."""
        known = self.authentic(raw) if self.authentic is not None else None
        if known is not None:
            return self.slow.recheck(known, raw, received_at)
        accepted = self.fast(raw, received_at)
        if accepted is not None:
            self.fast_hits += 1
            return accepted
        return safe_verify(self.slow, raw, received_at)

    def verify_batch(self, items: Sequence[tuple[bytes, datetime | None]]) -> list[Accepted | Rejected]:
        """verify() for each message in order, learning the keys of accepted key events as verify_log does.

        The signatures are checked together, between the parsing and the bookkeeping: run one after
        the other, Ed25519 and the JSON and schema work evict each other from the CPU caches.
        """
        prepared = [self.prepare(raw, received_at) for raw, received_at in items]
        check = self.check_signature
        good = [p is not None and check(p.public_key, p.event.signature, p.signed) for p in prepared]
        out: list[Accepted | Rejected] = []
        for i, p in enumerate(prepared):
            raw, received_at = items[i]
            if good[i]:
                self.fast_hits += 1
                result: Accepted | Rejected = Accepted(p.event, raw)  # type: ignore[union-attr]
            else:
                result = safe_verify(self.slow, raw, received_at)
            out.append(result)
            if isinstance(result, Accepted) and isinstance(result.event.payload, _KEY_EVENTS):
                self.keyring.apply(result.event.payload)  # what follows was prepared with the old keys
                for raw_, at in items[i + 1:]:
                    out.append(later := self.verify(raw_, at))
                    if isinstance(later, Accepted) and isinstance(later.event.payload, _KEY_EVENTS):
                        self.keyring.apply(later.event.payload)
                break
        return out

    def fast(self, raw: bytes, received_at: datetime | None = None) -> Accepted | None:
        """Accepted if the shortcut applies and every check passes; None means: ask the slow path."""
        p = self.prepare(raw, received_at)
        if p is None or not self.check_signature(p.public_key, p.event.signature, p.signed):
            return None
        return Accepted(p.event, raw)

    def prepare(self, raw: bytes, received_at: datetime | None = None) -> Prepared | None:
        """Every check but the signature's (all must pass, so their order does not matter); None
        means: ask the slow path."""
        obj = canonical_object(raw) if len(raw) <= MAX_MESSAGE_BYTES else None
        if obj is None or obj.keys() != _FIELDS or holds_nul(raw):
            return None
        kind, version = obj["type"], obj["schema_version"]
        known = self.types.get(kind) if type(kind) is str else None
        if known is None or type(version) is not int or version != known[1]:
            return None  # upcasting, and every odd case, stays with the slow path
        validator, _, permission = known
        try:
            event = validator.validate_python(obj)
        except ValidationError:
            return None
        key = self.keyring.get(event.key_id)
        if key is None or key.actor_id != event.actor or not key.valid_at(event.occurred_at):
            return None
        signed = without_signature(raw, event.signature)
        skew = self.max_clock_skew
        if signed is None or (received_at is not None and skew is not None and received_at - event.occurred_at > skew):
            return None
        if permission is None or event.producer != permission.producer or key.role not in permission.roles:
            return None
        if _binding_problem(event, key.org_id):
            return None
        return Prepared(event, key.public_raw, signed)


class Prepared(NamedTuple):
    """A message that passed every check but its signature's (a tuple: made for every message)."""

    event: Envelope[Any]
    public_key: bytes  # raw
    signed: bytes
