"""The verifier accepts what is signed and authorised, and names the reason for everything else."""

import json
from datetime import timedelta
from uuid import uuid4

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from events.canonical import canonical_bytes
from events.envelope import MAX_MESSAGE_BYTES
from events.rejection import Reason
from events.schemas import KeyRevoked, PrescriptionIssued
from events.seal import seal, sign_envelope
from events.signing import Signer
from events.verifier import Accepted, Verifier
from tests.factories import T0, cancelled, issued, signed_issue


@pytest.fixture
def verifier(identities):
    return Verifier(identities.keyring())


@pytest.fixture
def doctor(identities):
    return identities.signer("dr-wang")


def resign(raw: bytes, signer: Signer, **changes) -> bytes:
    """Change envelope fields and sign again, as a key holder (or forger) would."""
    obj = json.loads(raw)
    obj.pop("signature")
    obj.update(changes)
    return sign_envelope(obj, signer)


def reason(result):
    assert not isinstance(result, Accepted), "expected a rejection"
    return result.reason


def test_a_signed_authorised_event_is_accepted_and_parsed(verifier, doctor):
    result = verifier.verify(signed_issue(doctor))
    assert isinstance(result, Accepted)
    assert isinstance(result.event.payload, PrescriptionIssued)
    assert result.event.actor == "dr-wang" and result.event.payload.items[0].drug_name == "氨氯地平片"


def test_oversized(verifier, doctor):
    raw = signed_issue(doctor)
    padded = raw[:-1] + b" " * (MAX_MESSAGE_BYTES - len(raw) + 1) + b"}"
    assert reason(verifier.verify(padded)) is Reason.OVERSIZED


@pytest.mark.parametrize("raw", [b"", b"{", b"not json", b"\xff{}", b'{"a":1,"a":1}'])
def test_not_json(verifier, raw):
    assert reason(verifier.verify(raw)) is Reason.NOT_JSON


def test_json_that_rfc8785_cannot_write_is_rejected_not_raised(verifier, doctor):
    # A forger holding nothing but a real key id: the verifier must answer, not crash its consumer.
    obj = json.loads(signed_issue(doctor))
    obj["payload"]["patient"]["age_years"] = 2**60
    result = verifier.verify(json.dumps(obj).encode())
    assert reason(result) is Reason.NOT_JSON and "RFC 8785" in result.detail
    assert result.event_id == obj["event_id"]


def test_a_signed_text_holding_nul_is_a_schema_violation(identities, verifier, doctor):
    # Signed by its key holder, yet no consumer on PostgreSQL could store it: refused everywhere.
    from events.fastverify import FastVerifier

    obj = json.loads(signed_issue(doctor))
    obj.pop("signature")
    obj["payload"]["items"][0]["drug_name"] = "氨氯地平\x00片"
    raw = sign_envelope(obj, doctor)
    result = verifier.verify(raw)
    assert reason(result) is Reason.SCHEMA_VIOLATION and "U+0000" in result.detail
    assert FastVerifier(identities.keyring()).verify(raw) == result


@pytest.mark.parametrize("raw", [b"[]", b"{}", b'{"event_id": 1}'])
def test_not_an_envelope_is_a_schema_violation(verifier, raw):
    assert reason(verifier.verify(raw)) is Reason.SCHEMA_VIOLATION


def test_unknown_type(verifier, doctor):
    raw = resign(signed_issue(doctor), doctor, type="prescription.teleported")
    assert reason(verifier.verify(raw)) is Reason.UNKNOWN_TYPE


@pytest.mark.parametrize("version", [2, 99])
def test_unknown_schema_version(verifier, doctor, version):
    raw = resign(signed_issue(doctor), doctor, schema_version=version)
    assert reason(verifier.verify(raw)) is Reason.UNKNOWN_SCHEMA_VERSION


def test_payload_schema_violation(verifier, doctor):
    raw = signed_issue(doctor)
    payload = json.loads(raw)["payload"]
    payload["valid_days"] = 7  # 处方管理办法: at most 3 days
    result = verifier.verify(resign(raw, doctor, payload=payload))
    assert reason(result) is Reason.SCHEMA_VIOLATION and "valid_days" in result.detail


def test_unknown_key(verifier):
    stranger = Signer("dr-wang", "doctor", "dr-wang-k9", Ed25519PrivateKey.generate(), "clinic-qiaotou")
    assert reason(verifier.verify(signed_issue(stranger))) is Reason.UNKNOWN_KEY


def test_bad_signature_on_changed_content(verifier, doctor):
    obj = json.loads(signed_issue(doctor))
    obj["payload"]["items"][0]["dose"] = "50"
    assert reason(verifier.verify(canonical_bytes(obj))) is Reason.BAD_SIGNATURE


def test_bad_signature_by_a_forger_using_someone_elses_key_id(verifier, doctor):
    forger = Signer("dr-wang", "doctor", doctor.key_id, Ed25519PrivateKey.generate(), "clinic-qiaotou")
    assert reason(verifier.verify(signed_issue(forger))) is Reason.BAD_SIGNATURE


def test_key_of_another_actor(verifier, identities):
    li = identities.signer("dr-li")
    impostor = Signer("dr-wang", "doctor", li.key_id, li.private_key, li.org_id)
    assert reason(verifier.verify(signed_issue(impostor))) is Reason.KEY_ACTOR_MISMATCH


def test_key_not_yet_registered(verifier, doctor):
    before = T0 - timedelta(days=3650)
    assert reason(verifier.verify(signed_issue(doctor, at=before))) is Reason.KEY_NOT_VALID


def test_key_revoked(identities, doctor):
    ring = identities.keyring()
    ring.revoke(KeyRevoked(key_id=doctor.key_id, revoked_at=T0, reason="设备丢失"))
    v = Verifier(ring)
    assert isinstance(v.verify(signed_issue(doctor, at=T0 - timedelta(seconds=1))), Accepted)
    assert reason(v.verify(signed_issue(doctor, at=T0))) is Reason.KEY_NOT_VALID


def test_wrong_producer(verifier, doctor):
    raw = resign(signed_issue(doctor), doctor, producer="pharmacy")
    assert reason(verifier.verify(raw)) is Reason.WRONG_PRODUCER


def test_wrong_actor_role(verifier, identities):
    pharmacist = identities.signer("rph-zhao")
    raw = signed_issue(pharmacist)  # a pharmacist may not prescribe
    assert reason(verifier.verify(raw)) is Reason.WRONG_ACTOR_ROLE


def test_payload_naming_another_doctor(verifier, identities, doctor):
    other = identities.signer("dr-liu")  # same clinic, signs a prescription in dr-wang's name
    payload = issued(doctor)
    raw = seal(payload, stream_id=str(payload.prescription_id), stream_version=1,
               producer="prescriber", signer=other, producer_seq=1, occurred_at=T0)
    assert reason(verifier.verify(raw)) is Reason.ACTOR_MISMATCH


def test_stream_must_match_the_payload(verifier, doctor):
    payload = cancelled(doctor, uuid4())
    raw = seal(payload, stream_id=str(uuid4()), stream_version=2, producer="prescriber",
               signer=doctor, producer_seq=1, occurred_at=T0)
    assert reason(verifier.verify(raw)) is Reason.SCHEMA_VIOLATION


def test_clock_skew_against_the_log_time(verifier, doctor):
    raw = signed_issue(doctor)
    assert isinstance(verifier.verify(raw, received_at=T0 + timedelta(minutes=1)), Accepted)
    assert reason(verifier.verify(raw, received_at=T0 + timedelta(hours=2))) is Reason.CLOCK_SKEW
    # A future date cannot outrun a revocation (the key must be valid then too), so it passes.
    assert isinstance(verifier.verify(raw, received_at=T0 - timedelta(hours=2)), Accepted)


def test_every_reason_has_a_test():
    tested = {
        Reason.OVERSIZED, Reason.NOT_JSON, Reason.SCHEMA_VIOLATION, Reason.UNKNOWN_TYPE,
        Reason.UNKNOWN_SCHEMA_VERSION, Reason.UNKNOWN_KEY, Reason.KEY_ACTOR_MISMATCH,
        Reason.KEY_NOT_VALID, Reason.BAD_SIGNATURE, Reason.CLOCK_SKEW, Reason.WRONG_PRODUCER,
        Reason.WRONG_ACTOR_ROLE, Reason.ACTOR_MISMATCH,
    }
    assert tested == set(Reason) - {Reason.REPLAYED}  # REPLAYED is the consumer's (tests/component)
