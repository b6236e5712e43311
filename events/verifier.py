"""The verifier: raw bytes from the log in, a verified event or a precise rejection out.

Order matters. The signature is checked over the bytes as received (their canonical form)
before the payload is parsed or upcast, so nothing unauthenticated is ever interpreted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from events.authority import AUTHORITY, SIGNER_FIELDS, Permission
from events.canonical import signed_part, strict_loads
from events.catalog import DEFAULT_CATALOG, Catalog
from events.envelope import ENVELOPE_FIELDS, MAX_MESSAGE_BYTES, Envelope
from events.keyring import KeyRecord, Keyring
from events.rejection import Reason, Rejected
from events.signing import verify_signature
from events.text import holds_nul
from events.upcasting import UPCASTERS, UnknownVersion, Upcasters

# How far occurred_at may lie behind the broker's append time when that time is known:
# a key holder must not be able to backdate events to before the key was revoked. A
# future date escapes nothing (the key must still be valid then), so it is not refused here.
MAX_CLOCK_SKEW = timedelta(minutes=10)


@dataclass(frozen=True)
class Accepted:
    event: Envelope[Any]
    raw: bytes


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "envelope"
    return f"{where}: {err['msg']}"


class Verifier:
    """Verifies log messages against a keyring, the authority table and the schemas."""

    def __init__(
        self,
        keyring: Keyring,
        catalog: Catalog = DEFAULT_CATALOG,
        upcasters: Upcasters = UPCASTERS,
        authority: dict[str, Permission] = AUTHORITY,
        max_clock_skew: timedelta | None = MAX_CLOCK_SKEW,
        authentic: Callable[[bytes], Envelope[Any] | None] | None = None,
    ) -> None:
        # authentic: the parsed event of bytes this reader already holds as authentic (it sealed
        # them itself, or verified these exact bytes before), else None. A service reads back
        # every event it wrote, and each is a fifth of what it verifies; equal bytes carry an
        # equal signature and parse to an equal event, so only the checks that depend on the
        # keyring or the time of arrival are run again, and the verdict is the same.
        self.authentic = authentic
        self.keyring = keyring
        self.max_clock_skew = max_clock_skew
        self.catalog = catalog
        self.upcasters = upcasters
        self.authority = authority

    def verify(self, raw: bytes, received_at: datetime | None = None) -> Accepted | Rejected:
        """Check one message; never raises for bad input."""
        if len(raw) > MAX_MESSAGE_BYTES:
            return Rejected(Reason.OVERSIZED, f"{len(raw)} bytes > {MAX_MESSAGE_BYTES}")
        known = self.authentic(raw) if self.authentic is not None else None
        if known is not None:
            return self.recheck(known, raw, received_at)
        try:
            obj = strict_loads(raw)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            return Rejected(Reason.NOT_JSON, str(exc)[:200])
        try:
            # What the signature covers, computed once, and here: JSON that RFC 8785 cannot write
            # (an integer beyond 2^53) is not JSON we read, and raising would stop a consumer.
            signed = signed_part(obj) if isinstance(obj, dict) else b""
        except (ValueError, RecursionError) as exc:
            return Rejected(Reason.NOT_JSON, f"cannot be canonicalised (RFC 8785): {exc}"[:300], _event_id(obj))
        header = self._header(obj)
        if isinstance(header, Rejected):
            return header
        if holds_nul(raw):  # no field may: PostgreSQL's text cannot store it (events/text.py)
            return _holds_nul(header)
        return self._check(obj, header, raw, signed, received_at)

    def _header(self, obj: Any) -> Envelope[Any] | Rejected:
        if not isinstance(obj, dict):
            return Rejected(Reason.SCHEMA_VIOLATION, "envelope is not a JSON object")
        missing = [f for f in ENVELOPE_FIELDS if f not in obj]
        extra = sorted(set(obj) - set(ENVELOPE_FIELDS))
        if missing or extra:
            return Rejected(Reason.SCHEMA_VIOLATION, f"missing {missing}, unexpected {extra}")
        if not isinstance(obj["payload"], dict):
            return Rejected(Reason.SCHEMA_VIOLATION, "payload is not a JSON object")
        try:
            return Envelope[Any].model_validate(obj)
        except ValidationError as exc:
            return Rejected(Reason.SCHEMA_VIOLATION, _first_error(exc), _event_id(obj))

    def _check(
        self, obj: dict[str, Any], head: Envelope[Any], raw: bytes, signed: bytes, received_at: datetime | None
    ) -> Accepted | Rejected:
        vetted = self._vet(head, received_at, signed)
        return vetted if isinstance(vetted, Rejected) else self._parse(obj, head, vetted.org_id, raw)

    def _vet(self, head: Envelope[Any], received_at: datetime | None, signed: bytes | None) -> KeyRecord | Rejected:
        """Every check of the signer and its authority, in the order their rejections take; the
        signature's only when `signed` is given (None: these very bytes were verified before)."""
        eid = str(head.event_id)
        key = self.keyring.get(head.key_id)
        if key is None:
            return Rejected(Reason.UNKNOWN_KEY, f"key {head.key_id!r} is not registered", eid)
        if key.actor_id != head.actor:
            return Rejected(
                Reason.KEY_ACTOR_MISMATCH, f"key {key.key_id} belongs to {key.actor_id}", eid
            )
        if not key.valid_at(head.occurred_at):
            return Rejected(Reason.KEY_NOT_VALID, _validity(key, head.occurred_at), eid)
        if signed is not None and not verify_signature(key.public_raw, head.signature, signed):
            return Rejected(Reason.BAD_SIGNATURE, "signature does not match the content", eid)
        skew = self.max_clock_skew
        if received_at is not None and skew is not None and received_at - head.occurred_at > skew:
            return Rejected(Reason.CLOCK_SKEW,
                            f"occurred_at {head.occurred_at} is backdated against the log time {received_at}", eid)
        if not self.catalog.knows(head.type):
            return Rejected(Reason.UNKNOWN_TYPE, f"unknown event type {head.type!r}", eid)
        permission = self.authority.get(head.type)
        if permission is None:
            return Rejected(Reason.UNKNOWN_TYPE, f"no authority for {head.type!r}", eid)
        if head.producer != permission.producer:
            return Rejected(
                Reason.WRONG_PRODUCER, f"{head.type} comes from {permission.producer}, not {head.producer}", eid
            )
        if key.role not in permission.roles:
            return Rejected(Reason.WRONG_ACTOR_ROLE, f"role {key.role} may not emit {head.type}", eid)
        return key

    def recheck(self, known: Envelope[Any], raw: bytes, received_at: datetime | None) -> Accepted | Rejected:
        """Bytes known to be authentic (see __init__), parsed as `known`: the same verdict as a full
        check, without what depends on the bytes alone (JSON, canonical form, signature, schema);
        what depends on the keyring and the time of arrival is checked again."""
        if holds_nul(raw):
            return _holds_nul(known)
        vetted = self._vet(known, received_at, None)
        return vetted if isinstance(vetted, Rejected) else _bound(known, vetted.org_id, raw)

    def _parse(
        self, obj: dict[str, Any], head: Envelope[Any], org_id: str | None, raw: bytes
    ) -> Accepted | Rejected:
        eid = str(head.event_id)
        current = self.catalog.current_version(head.type)
        try:
            payload = self.upcasters.upcast(head.type, head.schema_version, current, obj["payload"])
        except UnknownVersion as exc:
            return Rejected(Reason.UNKNOWN_SCHEMA_VERSION, str(exc), eid)
        try:
            event = self.catalog.parse({**obj, "schema_version": current, "payload": payload})
        except ValidationError as exc:
            return Rejected(Reason.SCHEMA_VIOLATION, _first_error(exc), eid)
        return _bound(event, org_id, raw)


def _holds_nul(head: Envelope[Any]) -> Rejected:
    return Rejected(Reason.SCHEMA_VIOLATION, "a text holds U+0000 (NUL), which no field allows", str(head.event_id))


def _bound(event: Envelope[Any], org_id: str | None, raw: bytes) -> Accepted | Rejected:
    """Accepted, unless the payload is not bound to its stream and signer (_binding_problem)."""
    problem = _binding_problem(event, org_id)
    if problem:
        reason = Reason.ACTOR_MISMATCH if "names" in problem else Reason.SCHEMA_VIOLATION
        return Rejected(reason, problem, str(event.event_id))
    return Accepted(event, raw)


def _binding_problem(event: Envelope[Any], org_id: str | None) -> str | None:
    """The payload must belong to its stream and name its signer where it names anyone."""
    payload = event.payload
    own_id = getattr(payload, "prescription_id", None) or getattr(payload, "key_id", None)
    if own_id is not None and str(own_id) != event.stream_id:
        return f"stream_id {event.stream_id} does not match the payload's id {own_id}"
    fields = SIGNER_FIELDS.get(event.type)
    if fields and fields.actor and getattr(payload, fields.actor) != event.actor:
        return f"payload {fields.actor} names {getattr(payload, fields.actor)}, signed by {event.actor}"
    if fields and fields.org and getattr(payload, fields.org) != org_id:
        return f"payload {fields.org} names {getattr(payload, fields.org)}, the key's org is {org_id}"
    return None


def _validity(key: Any, at: datetime) -> str:
    if key.revoked_at is not None and at >= key.revoked_at:
        return f"key {key.key_id} was revoked at {key.revoked_at}, event at {at}"
    if key.valid_from is not None and at < key.valid_from:
        return f"key {key.key_id} not yet valid at {at} (from {key.valid_from})"
    return f"key {key.key_id} expired at {key.valid_until}, event at {at}"


def _event_id(obj: dict[str, Any]) -> str | None:
    value = obj.get("event_id")
    return value if isinstance(value, str) else None


def verify(raw: bytes, keyring: Keyring, received_at: datetime | None = None) -> Accepted | Rejected:
    """Verify one message with the default catalog, upcasters and authority table."""
    return Verifier(keyring).verify(raw, received_at)


def read_verified(
    raw: bytes, catalog: Catalog = DEFAULT_CATALOG, upcasters: Upcasters = UPCASTERS
) -> Envelope[Any]:
    """Parse bytes that were verified when they entered this store (no signature check)."""
    obj = strict_loads(raw)
    current = catalog.current_version(obj["type"])
    payload = upcasters.upcast(obj["type"], obj["schema_version"], current, obj["payload"])
    return catalog.parse({**obj, "schema_version": current, "payload": payload})
