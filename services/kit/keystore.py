"""The keys a service holds: only its own actors' private keys, and everyone's public keys."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from events.authority import Role
from events.identities import load_identities
from events.keyring import Keyring
from events.secrets_store import LocalSecrets, token_digest
from events.signing import Signer


@dataclass
class Keystore:
    """Signers of the actors who act through this service, the keyring, and API token digests."""

    signers: dict[str, Signer]
    keyring: Keyring
    token_digests: dict[str, str]  # sha256(token) -> actor_id
    secrets: LocalSecrets
    key_events: list[bytes]

    def signer(self, actor_id: str) -> Signer:
        return self.signers[actor_id]

    def service_signer(self, service_actor: str) -> Signer:
        """The service's own key, for acts no person performs (automatic approval, expiry)."""
        return self.signers[service_actor]


def load_keystore(keys_dir: Path, roles: set[Role], service_actor: str | None) -> Keystore:
    """Load the identities, keeping private keys only for this service's roles."""
    ids = load_identities(keys_dir)
    assert ids.secrets is not None
    mine = {
        a: s for a, s in ids.signers.items()
        if (s.role in roles and s.role != Role.SERVICE) or a == service_actor
    }
    digests = {token_digest(tok): a for a, tok in ids.secrets.tokens.items() if a in mine}
    return Keystore(mine, ids.keyring(), digests, ids.secrets, ids.key_events)
