"""Keys are events too, signed by the platform root key, so the log alone proves who could sign."""

from __future__ import annotations

from pydantic import Field

from events.schemas.base import ActorId, EventPayload, Reason, UtcDatetime


class KeyRegistered(EventPayload):
    """A public key is bound to one actor, one role, from a moment on."""

    TYPE = "key.registered"

    key_id: ActorId
    actor_id: ActorId
    role: str = Field(pattern=r"^[a-z_]{2,32}$")
    org_id: ActorId | None = Field(default=None, description="clinic, pharmacy or service")
    public_key: str = Field(pattern=r"^[A-Za-z0-9_-]{43}$", description="raw Ed25519, base64url")
    valid_from: UtcDatetime
    valid_until: UtcDatetime | None = None


class KeyRevoked(EventPayload):
    """From revoked_at on, nothing signed with this key is valid."""

    TYPE = "key.revoked"

    key_id: ActorId
    revoked_at: UtcDatetime
    reason: Reason
