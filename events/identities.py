"""Local identities: a root key, actor keys (private files 0600), and the root-signed key events."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from events.authority import Role
from events.directory import DEMO_ACTORS, Actor
from events.keyring import ROOT_ACTOR, Keyring
from events.schemas import KeyRegistered
from events.seal import seal
from events.secrets_store import LocalSecrets, load_secrets, write_private, write_secrets
from events.sequence import ProducerSequence
from events.signing import (
    Signer,
    load_private_key_pem,
    load_public_key,
    private_key_pem,
    public_key_text,
)
from events.verifier import Accepted, verify

ROOT_KEY_ID = "root-1"
KEYS_DIR = "private"
ACTORS_FILE = "actors.json"
KEY_EVENTS_FILE = "key-events.jsonl"


@dataclass
class Identities:
    """Keys of the platform root and every actor, loaded from one directory."""

    root: Signer
    signers: dict[str, Signer]
    key_events: list[bytes] = field(default_factory=list)
    secrets: LocalSecrets | None = None

    def signer(self, actor_id: str) -> Signer:
        """The signing identity of one actor."""
        return self.signers[actor_id]

    def keyring(self) -> Keyring:
        """A keyring that knows the root and every key event verified in order."""
        ring = Keyring(self.root.key_id, self.root.public_key)
        for raw in self.key_events:
            result = verify(raw, ring)
            if not isinstance(result, Accepted):
                raise ValueError(f"key event does not verify: {result.describe()}")
            ring.apply(result.event.payload)
        return ring


def key_registered(root: Signer, signer: Signer, seq: int, at: datetime) -> bytes:
    """The root-signed key.registered of a signer's key, valid from `at` (the platform's seq-th event)."""
    payload = KeyRegistered(
        key_id=signer.key_id,
        actor_id=signer.actor_id,
        role=signer.role,
        org_id=signer.org_id,
        public_key=public_key_text(signer.public_key),
        valid_from=at,
    )
    return seal(
        payload, stream_id=signer.key_id, stream_version=1, producer="platform",
        signer=root, producer_seq=seq, occurred_at=at,
    )


def generate_identities(
    out_dir: Path, actors: Iterable[Actor] = DEMO_ACTORS, valid_from: datetime | None = None
) -> Identities:
    """Create a root key and one key per actor in out_dir; write the signed key events."""
    out_dir = Path(out_dir)
    (out_dir / KEYS_DIR).mkdir(parents=True, exist_ok=True)
    os.chmod(out_dir / KEYS_DIR, 0o700)
    now = valid_from or datetime.now(UTC)
    root_key = Ed25519PrivateKey.generate()
    write_private(out_dir / KEYS_DIR / f"{ROOT_KEY_ID}.pem", private_key_pem(root_key))
    (out_dir / "root.pub").write_text(public_key_text(root_key.public_key()) + "\n")
    root = Signer(ROOT_ACTOR, Role.ROOT, ROOT_KEY_ID, root_key)
    seq = ProducerSequence("platform")
    signers, events, directory = {}, [], []
    for actor in actors:
        key_id = f"{actor.actor_id}-k1"
        key = Ed25519PrivateKey.generate()
        write_private(out_dir / KEYS_DIR / f"{key_id}.pem", private_key_pem(key))
        signer = Signer(actor.actor_id, actor.role, key_id, key, actor.org_id)
        signers[actor.actor_id] = signer
        events.append(key_registered(root, signer, seq.next(), now))
        directory.append({**actor.__dict__, "role": actor.role.value, "key_id": key_id})
    (out_dir / ACTORS_FILE).write_text(json.dumps(directory, ensure_ascii=False, indent=2))
    (out_dir / KEY_EVENTS_FILE).write_bytes(b"".join(e + b"\n" for e in events))
    return Identities(root, signers, events, write_secrets(out_dir, signers))


def load_identities(out_dir: Path) -> Identities:
    """Load what generate_identities wrote."""
    out_dir = Path(out_dir)
    pem = (out_dir / KEYS_DIR / f"{ROOT_KEY_ID}.pem").read_bytes()
    root = Signer(ROOT_ACTOR, Role.ROOT, ROOT_KEY_ID, load_private_key_pem(pem))
    signers = {}
    for row in json.loads((out_dir / ACTORS_FILE).read_text()):
        key = load_private_key_pem((out_dir / KEYS_DIR / f"{row['key_id']}.pem").read_bytes())
        signers[row["actor_id"]] = Signer(row["actor_id"], Role(row["role"]), row["key_id"], key, row["org_id"])
    lines = (out_dir / KEY_EVENTS_FILE).read_bytes().splitlines()
    return Identities(root, signers, [line for line in lines if line], load_secrets(out_dir))


def load_root_public_key(out_dir: Path) -> Keyring:
    """An empty keyring pinned to the root public key alone: what a regulator starts from."""
    text = (Path(out_dir) / "root.pub").read_text().strip()
    return Keyring(ROOT_KEY_ID, load_public_key(text))
