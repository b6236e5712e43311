"""Local secrets beside the keys: API tokens, the pickup-code pepper, the contact-sealing key."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

TOKENS = "private/tokens.json"
PEPPER = "private/pickup-pepper"
CONTACT_KEY = "private/delivery-contact.pem"
CONTACT_PUB = "delivery-contact.pub"


def write_private(path: Path, data: bytes) -> None:
    """Write a file created with mode 0600, never readable by others even for a moment."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, 0o600)


def token_digest(token: str) -> str:
    """What a service keeps of a token: its SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class LocalSecrets:
    tokens: dict[str, str]  # actor_id -> API bearer token
    pickup_pepper: bytes
    contact_key: X25519PrivateKey

    @property
    def contact_public(self) -> X25519PublicKey:
        return self.contact_key.public_key()


def write_secrets(out_dir: Path, actor_ids: Iterable[str]) -> LocalSecrets:
    """Generate tokens for every actor, a pickup pepper and the delivery contact key."""
    tokens = {a: secrets.token_urlsafe(24) for a in actor_ids}
    pepper = secrets.token_bytes(32)
    key = X25519PrivateKey.generate()
    write_private(out_dir / TOKENS, json.dumps(tokens, indent=2).encode())
    write_private(out_dir / PEPPER, pepper.hex().encode())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    write_private(out_dir / CONTACT_KEY, pem)
    pub = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    (out_dir / CONTACT_PUB).write_text(pub.hex() + "\n")
    return LocalSecrets(tokens, pepper, key)


def load_secrets(out_dir: Path) -> LocalSecrets:
    """Read what write_secrets wrote."""
    out_dir = Path(out_dir)
    tokens = json.loads((out_dir / TOKENS).read_text())
    pepper = bytes.fromhex((out_dir / PEPPER).read_text().strip())
    key = serialization.load_pem_private_key((out_dir / CONTACT_KEY).read_bytes(), password=None)
    if not isinstance(key, X25519PrivateKey):
        raise ValueError("delivery contact key is not X25519")
    return LocalSecrets(tokens, pepper, key)
