"""Test data: realistic payloads and signed envelopes built through the real contract."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

from events.schemas import (
    Channel,
    Diagnosis,
    Item,
    PatientFacts,
    PrescriptionCancelled,
    PrescriptionIssued,
)
from events.seal import seal
from events.signing import Signer

T0 = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)


def issued(
    doctor: Signer,
    prescription_id: UUID | None = None,
    *,
    at: datetime = T0,
    channel: Channel = Channel.HOSPITAL,
    pharmacy_id: str | None = "pharm-county",
) -> PrescriptionIssued:
    """A village doctor's hypertension prescription."""
    return PrescriptionIssued(
        prescription_id=prescription_id or uuid4(),
        clinic_id=doctor.org_id or "clinic-qiaotou",
        doctor_id=doctor.actor_id,
        patient=PatientFacts(
            patient_ref=hashlib.sha256(b"110101195001011234").hexdigest(),
            sex="M",
            age_years=67,
            allergies=("penicillin",),
        ),
        diagnoses=(Diagnosis(code="I10", name="原发性高血压"),),
        items=(
            Item(
                drug_code="C08CA01-TAB-5MG",
                drug_name="氨氯地平片",
                dose=Decimal("5"),
                dose_unit="mg",
                frequency="qd",
                route="po",
                days=7,
                quantity=Decimal("1"),
                quantity_unit="box",
            ),
        ),
        channel=channel,
        pharmacy_id=pharmacy_id,
        valid_days=1,
        valid_until=at + timedelta(days=1),
        pickup_code_hash=hashlib.sha256(b"K7P2QX9M").hexdigest(),
    )


def cancelled(doctor: Signer, prescription_id: UUID) -> PrescriptionCancelled:
    return PrescriptionCancelled(
        prescription_id=prescription_id, doctor_id=doctor.actor_id, reason="患者要求更换药物"
    )


def signed_issue(doctor: Signer, *, seq: int = 1, at: datetime = T0, **kw: object) -> bytes:
    """A signed prescription.issued as it would travel on the log."""
    payload = issued(doctor, at=at, **kw)  # type: ignore[arg-type]
    return seal(
        payload,
        stream_id=str(payload.prescription_id),
        stream_version=1,
        producer="prescriber",
        signer=doctor,
        producer_seq=seq,
        occurred_at=at,
    )


class StreamWriter:
    """Writes one prescription's history as the upstream services would: versions and seqs counted."""

    _seqs: dict[str, int] = {}

    def __init__(self, prescription_id: UUID, at: datetime = T0) -> None:
        self.prescription_id = prescription_id
        self.version = 0
        self.at = at

    def emit(self, payload, producer: str, signer: Signer, *, minutes_later: float = 1) -> bytes:  # type: ignore[no-untyped-def]
        """Seal the next event of the stream, a little later than the previous one."""
        self.version += 1
        seq = StreamWriter._seqs[producer] = StreamWriter._seqs.get(producer, 0) + 1
        self.at = self.at + timedelta(minutes=minutes_later)
        return seal(payload, stream_id=str(self.prescription_id), stream_version=self.version, producer=producer,
                    signer=signer, producer_seq=seq, occurred_at=self.at)
