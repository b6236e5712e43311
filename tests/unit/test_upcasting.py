"""A worked example of a breaking schema change: v2 of prescription.cancelled.

Version 2 replaces free-text `reason` with a coded `reason_code` plus `reason_text`. Events
already on the log stay as they are (v1); the reader upcasts them when it verifies them.
"""

import json
from typing import ClassVar, Literal
from uuid import uuid4

import pytest

from events.catalog import Catalog
from events.rejection import Reason
from events.schemas import ALL_PAYLOADS, EventPayload
from events.seal import seal
from events.upcasting import UnknownVersion, Upcasters
from events.verifier import Accepted, Verifier
from tests.factories import T0, cancelled


class PrescriptionCancelledV2(EventPayload):
    TYPE: ClassVar[str] = "prescription.cancelled"
    SCHEMA_VERSION: ClassVar[int] = 2

    prescription_id: str
    doctor_id: str
    reason_code: Literal["patient_request", "wrong_drug", "other"]
    reason_text: str


upcasters_v2 = Upcasters()


@upcasters_v2.register("prescription.cancelled", from_version=1)
def cancelled_v1_to_v2(payload):
    text = payload.pop("reason")
    payload["reason_code"] = "patient_request" if "患者" in text else "other"
    payload["reason_text"] = text
    return payload


@pytest.fixture
def v2_verifier(identities):
    payloads = [p for p in ALL_PAYLOADS if p.TYPE != "prescription.cancelled"]
    return Verifier(identities.keyring(), Catalog([*payloads, PrescriptionCancelledV2]), upcasters_v2)


def test_a_v1_event_on_the_log_is_read_as_v2(identities, v2_verifier):
    doctor = identities.signer("dr-wang")
    raw = seal(cancelled(doctor, pid := uuid4()), stream_id=str(pid), stream_version=2,
               producer="prescriber", signer=doctor, producer_seq=2, occurred_at=T0)
    assert json.loads(raw)["schema_version"] == 1
    result = v2_verifier.verify(raw)
    assert isinstance(result, Accepted)
    assert result.event.schema_version == 2
    assert result.event.payload.reason_code == "patient_request"
    assert result.event.payload.reason_text == "患者要求更换药物"
    assert result.raw == raw  # the bytes on the log are never rewritten


def test_without_an_upcaster_the_old_version_is_refused(identities):
    payloads = [p for p in ALL_PAYLOADS if p.TYPE != "prescription.cancelled"]
    verifier = Verifier(identities.keyring(), Catalog([*payloads, PrescriptionCancelledV2]), Upcasters())
    doctor = identities.signer("dr-wang")
    raw = seal(cancelled(doctor, pid := uuid4()), stream_id=str(pid), stream_version=2,
               producer="prescriber", signer=doctor, producer_seq=2, occurred_at=T0)
    assert verifier.verify(raw).reason is Reason.UNKNOWN_SCHEMA_VERSION


def test_registry_refuses_two_upcasters_for_one_step_and_future_versions():
    with pytest.raises(ValueError):
        upcasters_v2.register("prescription.cancelled", 1)(cancelled_v1_to_v2)
    with pytest.raises(UnknownVersion):
        upcasters_v2.upcast("prescription.cancelled", 3, 2, {})
