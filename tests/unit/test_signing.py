"""Ed25519 signing and the text encodings of keys and signatures."""

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from events.signing import (
    Signer,
    b64decode,
    b64encode,
    load_private_key_pem,
    load_public_key,
    private_key_pem,
    public_key_text,
    verify_signature,
)


@pytest.fixture
def signer():
    return Signer("dr-wang", "doctor", "dr-wang-k1", Ed25519PrivateKey.generate(), "clinic-qiaotou")


def test_a_signature_verifies_with_the_matching_public_key(signer):
    sig = signer.sign(b"message")
    assert verify_signature(signer.public_key, sig, b"message")


def test_a_signature_fails_for_other_content_or_another_key(signer):
    sig = signer.sign(b"message")
    assert not verify_signature(signer.public_key, sig, b"messagE")
    other = Ed25519PrivateKey.generate().public_key()
    assert not verify_signature(other, sig, b"message")


def test_garbage_signature_text_is_a_failed_check_not_an_exception(signer):
    assert not verify_signature(signer.public_key, "not base64!", b"message")
    assert not verify_signature(signer.public_key, "", b"message")


def test_public_key_text_round_trips(signer):
    text = public_key_text(signer.public_key)
    assert len(text) == 43
    assert public_key_text(load_public_key(text)) == text


def test_private_key_pem_round_trips(signer):
    again = load_private_key_pem(private_key_pem(signer.private_key))
    assert public_key_text(again.public_key()) == public_key_text(signer.public_key)


def test_base64_refuses_non_canonical_spellings():
    text = b64encode(b"\x00\x01\x02")
    assert b64decode(text) == b"\x00\x01\x02"
    for bad in (text + "=", text.replace("A", "+"), text + " "):
        with pytest.raises(ValueError):
            b64decode(bad)
