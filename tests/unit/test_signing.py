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
    public_key_bytes,
    public_key_text,
    signature_valid,
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


def _openssl_accepts(public: bytes, signature: bytes, message: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def test_libsodium_gives_openssls_verdict_on_good_and_damaged_signatures(signer):
    import random

    rng, public = random.Random(8032), public_key_bytes(signer.public_key)
    message = b'{"type":"prescription.issued"}'
    good = signer.private_key.sign(message)
    assert signature_valid(public, good, message) and _openssl_accepts(public, good, message)
    cases = [(good, message + b" "), (good[:63], message), (good + b"\x00", message), (b"", message)]
    for _ in range(200):  # one bit flipped in the signature, the message or the key
        where, bit = rng.randrange(3), 1 << rng.randrange(8)
        sig, msg, key = bytearray(good), bytearray(message), bytearray(public)
        target = (sig, msg, key)[where]
        target[rng.randrange(len(target))] ^= bit
        cases.append((bytes(sig), bytes(msg)))
        assert signature_valid(bytes(key), bytes(sig), bytes(msg)) == _openssl_accepts(bytes(key), bytes(sig),
                                                                                        bytes(msg))
    for sig, msg in cases:
        assert signature_valid(public, sig, msg) == _openssl_accepts(public, sig, msg)


def test_a_small_order_key_verifies_nothing():
    # The identity point as a public key: with S = 0 and R = the identity, the cofactorless
    # equation [S]B = R + [k]A holds for every message. OpenSSL accepts that signature (a
    # registered key like this would sign everything); libsodium refuses such keys outright.
    identity = b"\x01" + b"\x00" * 31
    forged = identity + b"\x00" * 32
    assert _openssl_accepts(identity, forged, b"anything at all")
    assert not signature_valid(identity, forged, b"anything at all")
    assert not verify_signature(identity, b64encode(forged), b"anything at all")
