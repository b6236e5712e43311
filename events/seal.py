"""Sealing: turn a payload into signed wire bytes, signed by the actor who acted."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from events.canonical import canonical_with_signature
from events.schemas import EventPayload, format_utc
from events.signing import Signer


def unsigned_envelope(
    payload: EventPayload,
    *,
    stream_id: str,
    stream_version: int,
    producer: str,
    signer: Signer,
    producer_seq: int,
    occurred_at: datetime,
    event_id: UUID | None = None,
) -> dict[str, Any]:
    """The envelope as a JSON object, everything but the signature."""
    return {
        "event_id": str(event_id or uuid4()),
        "type": payload.TYPE,
        "schema_version": payload.SCHEMA_VERSION,
        "stream_id": stream_id,
        "stream_version": stream_version,
        "producer": producer,
        "actor": signer.actor_id,
        "producer_seq": producer_seq,
        "occurred_at": format_utc(occurred_at),
        "key_id": signer.key_id,
        "payload": payload.model_dump(mode="json"),
    }


def sign_envelope(envelope: dict[str, Any], signer: Signer) -> bytes:
    """Sign an unsigned envelope dict; return the canonical wire bytes with the signature."""
    return canonical_with_signature(envelope, signer.sign)


def seal(
    payload: EventPayload,
    *,
    stream_id: str,
    stream_version: int,
    producer: str,
    signer: Signer,
    producer_seq: int,
    occurred_at: datetime,
    event_id: UUID | None = None,
) -> bytes:
    """Build, sign and serialise one envelope."""
    envelope = unsigned_envelope(
        payload,
        stream_id=stream_id,
        stream_version=stream_version,
        producer=producer,
        signer=signer,
        producer_seq=producer_seq,
        occurred_at=occurred_at,
        event_id=event_id,
    )
    return sign_envelope(envelope, signer)
