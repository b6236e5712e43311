"""The keyring: which key belonged to which actor, in which role, and when it was valid."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from events.authority import Role
from events.schemas import KeyRegistered, KeyRevoked
from events.signing import load_public_key, public_key_bytes

ROOT_ACTOR = "platform-root"


@dataclass(frozen=True)
class KeyRecord:
    key_id: str
    actor_id: str
    role: str
    org_id: str | None
    public_key: Ed25519PublicKey
    valid_from: datetime | None  # None: always (the pinned root key)
    valid_until: datetime | None = None
    revoked_at: datetime | None = None
    # The 32 raw bytes, what signature checks take (kept, not recomputed per message).
    public_raw: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "public_raw", public_key_bytes(self.public_key))

    def valid_at(self, at: datetime) -> bool:
        """True when the key could sign at this moment: registered, not expired, not revoked."""
        if self.valid_from is not None and at < self.valid_from:
            return False
        if self.valid_until is not None and at >= self.valid_until:
            return False
        return self.revoked_at is None or at < self.revoked_at


class Keyring:
    """Keys folded from key events; the root key is pinned, never learned from the log."""

    def __init__(self, root_key_id: str, root_public_key: Ed25519PublicKey) -> None:
        self.root_key_id = root_key_id
        self._keys: dict[str, KeyRecord] = {
            root_key_id: KeyRecord(root_key_id, ROOT_ACTOR, Role.ROOT, None, root_public_key, None)
        }

    def get(self, key_id: str) -> KeyRecord | None:
        return self._keys.get(key_id)

    def __len__(self) -> int:
        return len(self._keys)

    def register(self, event: KeyRegistered) -> bool:
        """Add a key from a verified key.registered; a key id is bound once and for all."""
        if event.key_id in self._keys or event.role == Role.ROOT:
            return False
        self._keys[event.key_id] = KeyRecord(
            key_id=event.key_id,
            actor_id=event.actor_id,
            role=event.role,
            org_id=event.org_id,
            public_key=load_public_key(event.public_key),
            valid_from=event.valid_from,
            valid_until=event.valid_until,
        )
        return True

    def revoke(self, event: KeyRevoked) -> bool:
        """Apply a verified key.revoked; the earliest revocation time wins."""
        record = self._keys.get(event.key_id)
        if record is None or event.key_id == self.root_key_id:
            return False
        if record.revoked_at is not None and record.revoked_at <= event.revoked_at:
            return False
        self._keys[event.key_id] = replace(record, revoked_at=event.revoked_at)
        return True

    def apply(self, payload: KeyRegistered | KeyRevoked) -> bool:
        """Fold one verified key event into the keyring."""
        if isinstance(payload, KeyRegistered):
            return self.register(payload)
        return self.revoke(payload)

    def was_valid(self, key_id: str, actor_id: str, role: str, at: datetime) -> bool:
        """Was key K valid for actor A, with role R, at time T?"""
        record = self._keys.get(key_id)
        return (
            record is not None
            and record.actor_id == actor_id
            and record.role == role
            and record.valid_at(at)
        )
