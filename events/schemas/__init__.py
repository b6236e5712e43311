"""Every event payload of the prescription lifecycle, and of keys."""

from events.schemas.audit import AuditCheckpoint, LedgerSource
from events.schemas.base import EventPayload, UtcDatetime, format_utc
from events.schemas.delivery import (
    DeliveryAssigned,
    DeliveryDelivered,
    DeliveryFailed,
    DeliveryPickedUp,
    DeliveryRequested,
    DeliveryReturned,
)
from events.schemas.keys import KeyRegistered, KeyRevoked
from events.schemas.pharmacy import (
    DispensedLine,
    PrescriptionClaimed,
    PrescriptionDispensed,
    PrescriptionExpired,
    PrescriptionReleased,
    packs_of,
)
from events.schemas.prescription import (
    Channel,
    Diagnosis,
    Item,
    PatientFacts,
    PrescriptionCancelled,
    PrescriptionIssued,
)
from events.schemas.review import (
    Finding,
    Override,
    PrescriptionApproved,
    PrescriptionRejected,
    ReviewFlagged,
    ReviewPassed,
)

ALL_PAYLOADS: tuple[type[EventPayload], ...] = (
    PrescriptionIssued,
    ReviewPassed,
    ReviewFlagged,
    PrescriptionApproved,
    PrescriptionRejected,
    PrescriptionCancelled,
    PrescriptionExpired,
    PrescriptionClaimed,
    PrescriptionReleased,
    PrescriptionDispensed,
    DeliveryRequested,
    DeliveryAssigned,
    DeliveryPickedUp,
    DeliveryDelivered,
    DeliveryFailed,
    DeliveryReturned,
    KeyRegistered,
    KeyRevoked,
    AuditCheckpoint,
)

__all__ = [
    "ALL_PAYLOADS",
    "AuditCheckpoint",
    "Channel",
    "DeliveryAssigned",
    "DeliveryDelivered",
    "DeliveryFailed",
    "DeliveryPickedUp",
    "DeliveryRequested",
    "DeliveryReturned",
    "Diagnosis",
    "DispensedLine",
    "EventPayload",
    "Finding",
    "Item",
    "KeyRegistered",
    "KeyRevoked",
    "LedgerSource",
    "Override",
    "PatientFacts",
    "PrescriptionApproved",
    "PrescriptionCancelled",
    "PrescriptionClaimed",
    "PrescriptionDispensed",
    "PrescriptionExpired",
    "PrescriptionIssued",
    "PrescriptionRejected",
    "PrescriptionReleased",
    "ReviewFlagged",
    "ReviewPassed",
    "UtcDatetime",
    "format_utc",
    "packs_of",
]
