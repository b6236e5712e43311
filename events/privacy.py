"""Patients' personal data never travels in clear: pickup codes are keyed hashes, contacts sealed.

Contacts (name, phone, address) for home delivery are sealed to the delivery service's
X25519 key (ephemeral ECDH + HKDF-SHA256 + ChaCha20-Poly1305), so only it can open them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from events.signing import b64decode, b64encode

# Unambiguous characters only: no 0/O, 1/I/L, so a code read aloud over the phone survives.
PICKUP_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
PICKUP_LENGTH = 8
_INFO = b"rxflow sealed contact v1"


def new_pickup_code() -> str:
    """A random 8-character pickup code for the patient (about 40 bits)."""
    return "".join(secrets.choice(PICKUP_ALPHABET) for _ in range(PICKUP_LENGTH))


def normalise_pickup_code(code: str) -> str:
    """Upper-case, without spaces or dashes, as a patient might type or say it."""
    return code.strip().upper().replace(" ", "").replace("-", "")


def pickup_code_hash(pepper: bytes, code: str) -> str:
    """HMAC-SHA256 of the code: the log holds this, never the code itself."""
    return hmac.new(pepper, normalise_pickup_code(code).encode(), hashlib.sha256).hexdigest()


def _key(shared: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(shared)


def seal_contact(recipient: X25519PublicKey, contact: dict[str, Any]) -> str:
    """Encrypt a contact record so only the recipient's private key opens it."""
    ephemeral = X25519PrivateKey.generate()
    epk = ephemeral.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    nonce = secrets.token_bytes(12)
    plaintext = json.dumps(contact, ensure_ascii=False, sort_keys=True).encode()
    box = ChaCha20Poly1305(_key(ephemeral.exchange(recipient))).encrypt(nonce, plaintext, epk)
    return b64encode(epk + nonce + box)


def open_contact(private: X25519PrivateKey, sealed: str) -> dict[str, Any]:
    """Decrypt a sealed contact; raises ValueError if it was not sealed to this key or was altered."""
    data = b64decode(sealed)
    epk, nonce, box = data[:32], data[32:44], data[44:]
    shared = private.exchange(X25519PublicKey.from_public_bytes(epk))
    try:
        plaintext = ChaCha20Poly1305(_key(shared)).decrypt(nonce, box, epk)
    except Exception as exc:  # cryptography raises InvalidTag
        raise ValueError("sealed contact does not open with this key") from exc
    return json.loads(plaintext)


def patient_ref(pepper: bytes, id_number: str) -> str:
    """A stable pseudonym for a patient: the same person gets the same ref, nobody can reverse it."""
    return hmac.new(pepper, b"patient:" + id_number.strip().upper().encode(), hashlib.sha256).hexdigest()
