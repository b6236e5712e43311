"""Bytes a service already holds as authentic skip the signature, never the keyring or the clock."""

from datetime import timedelta
from uuid import uuid4

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from events.fastverify import FastVerifier
from events.rejection import Reason
from events.schemas import KeyRevoked
from events.seal import seal
from events.signing import Signer
from events.verifier import Accepted, Verifier, read_verified
from tests.factories import T0, cancelled, issued, signed_issue
from tests.unit.test_verifier import resign


def messages(identities) -> dict[str, bytes]:
    """Messages whose verdict depends on more than their bytes: signer, authority, binding, time."""
    doctor, li = identities.signer("dr-wang"), identities.signer("dr-li")
    payload = issued(doctor)
    return {
        "good": signed_issue(doctor),
        "later": signed_issue(doctor, at=T0 + timedelta(hours=1)),
        "before its key": signed_issue(doctor, at=T0 - timedelta(days=3650)),
        "another actor's key": signed_issue(Signer("dr-wang", "doctor", li.key_id, li.private_key, li.org_id)),
        "unknown key": signed_issue(Signer("dr-wang", "doctor", "k9", Ed25519PrivateKey.generate(), "c")),
        "wrong producer": resign(signed_issue(doctor), doctor, producer="pharmacy"),
        "wrong role": signed_issue(identities.signer("rph-zhao")),
        "names another doctor": seal(payload, stream_id=str(payload.prescription_id), stream_version=1,
                                     producer="prescriber", signer=identities.signer("dr-liu"), producer_seq=1,
                                     occurred_at=T0),
        "another stream": seal(cancelled(doctor, uuid4()), stream_id=str(uuid4()), stream_version=2,
                               producer="prescriber", signer=doctor, producer_seq=1, occurred_at=T0),
    }


def verdict(result) -> str:
    return "accepted" if isinstance(result, Accepted) else result.reason.value


@pytest.mark.parametrize("kind", [Verifier, FastVerifier])
def test_known_bytes_get_the_verdict_of_a_full_check_under_every_keyring_and_clock(identities, kind):
    doctor = identities.signer("dr-wang")
    corpus = messages(identities)
    known = {raw: read_verified(raw) for raw in corpus.values()}
    revoked = identities.keyring()
    revoked.revoke(KeyRevoked(key_id=doctor.key_id, revoked_at=T0 + timedelta(minutes=30), reason="设备丢失"))
    seen = set()
    for ring in (identities.keyring(), revoked):
        full, short = kind(ring), kind(ring, authentic=known.get)
        for name, raw in corpus.items():
            for received_at in (None, T0 + timedelta(minutes=5), T0 + timedelta(hours=3)):
                expected = verdict(full.verify(raw, received_at))
                assert verdict(short.verify(raw, received_at)) == expected, (name, received_at)
                seen.add(expected)
    # The comparison covered acceptance and every reason that does not depend on the bytes alone.
    assert seen == {"accepted", Reason.KEY_NOT_VALID.value, Reason.KEY_ACTOR_MISMATCH.value,
                    Reason.UNKNOWN_KEY.value, Reason.WRONG_PRODUCER.value, Reason.WRONG_ACTOR_ROLE.value,
                    Reason.ACTOR_MISMATCH.value, Reason.SCHEMA_VIOLATION.value, Reason.CLOCK_SKEW.value}


@pytest.mark.parametrize("kind", [Verifier, FastVerifier])
def test_known_bytes_skip_parsing_and_other_bytes_are_checked_in_full(identities, kind):
    doctor = identities.signer("dr-wang")
    raw = signed_issue(doctor)
    event = read_verified(raw)
    verifier = kind(identities.keyring(), authentic={raw: event}.get)
    result = verifier.verify(raw)
    assert isinstance(result, Accepted) and result.event is event  # the held event, not a new parse
    tampered = raw.replace(b'"dr-wang"', b'"dr-liu"', 1)
    assert verdict(verifier.verify(tampered)) != "accepted"
    forged = signed_issue(Signer("dr-wang", "doctor", doctor.key_id, Ed25519PrivateKey.generate(), doctor.org_id))
    assert verdict(verifier.verify(forged)) == Reason.BAD_SIGNATURE.value
