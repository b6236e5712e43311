"""Who may say what: the producer service and the actor roles allowed for each event type."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """Actor roles a key is registered for."""

    ROOT = "root"  # the platform root: signs key events only
    DOCTOR = "doctor"  # village clinic or hospital doctor (处方医师)
    PHARMACIST = "pharmacist"  # reviewing pharmacist (审方药师)
    UPPER_DOCTOR = "upper_doctor"  # upper-level doctor of the medical community (上级审核)
    PHARMACY = "pharmacy"  # dispensing pharmacist of a hospital or retail pharmacy
    COURIER = "courier"
    SERVICE = "service"  # a service acting on its own: automatic review, expiry, dispatch


@dataclass(frozen=True)
class Permission:
    producer: str
    roles: frozenset[Role]


def _p(producer: str, *roles: Role) -> Permission:
    return Permission(producer, frozenset(roles))


REVIEWERS = (Role.PHARMACIST, Role.UPPER_DOCTOR)

AUTHORITY: dict[str, Permission] = {
    "prescription.issued": _p("prescriber", Role.DOCTOR),
    "prescription.cancelled": _p("prescriber", Role.DOCTOR),
    "review.passed": _p("review", Role.SERVICE),
    "review.flagged": _p("review", Role.SERVICE),
    # Automatic approval of a clean prescription is the review service's own act.
    "prescription.approved": _p("review", *REVIEWERS, Role.SERVICE),
    "prescription.rejected": _p("review", *REVIEWERS),
    "prescription.claimed": _p("pharmacy", Role.PHARMACY),
    "prescription.released": _p("pharmacy", Role.PHARMACY),
    "prescription.dispensed": _p("pharmacy", Role.PHARMACY),
    "prescription.expired": _p("pharmacy", Role.SERVICE),
    "delivery.requested": _p("delivery", Role.SERVICE),
    "delivery.assigned": _p("delivery", Role.SERVICE, Role.COURIER),
    "delivery.picked_up": _p("delivery", Role.COURIER),
    "delivery.delivered": _p("delivery", Role.COURIER),
    "delivery.failed": _p("delivery", Role.COURIER),
    "delivery.returned": _p("delivery", Role.COURIER),
    "key.registered": _p("platform", Role.ROOT),
    "key.revoked": _p("platform", Role.ROOT),
    # The audit service signs the ledger's checkpoints on its own (no person acts).
    "audit.checkpoint": _p("audit", Role.SERVICE),
}


@dataclass(frozen=True)
class SignerFields:
    """Payload fields that must name the signer (and the signer's organisation)."""

    actor: str | None = None
    org: str | None = None


# The doctor signs what he prescribes, the pharmacy its dispense, the courier the hand-over:
# a payload that names someone else than the key's owner is refused, not trusted.
SIGNER_FIELDS: dict[str, SignerFields] = {
    "prescription.issued": SignerFields(actor="doctor_id", org="clinic_id"),
    "prescription.cancelled": SignerFields(actor="doctor_id"),
    "prescription.approved": SignerFields(actor="reviewer_id"),
    "prescription.rejected": SignerFields(actor="reviewer_id"),
    "prescription.claimed": SignerFields(actor="claimed_by", org="pharmacy_id"),
    "prescription.released": SignerFields(org="pharmacy_id"),
    "prescription.dispensed": SignerFields(actor="dispensed_by", org="pharmacy_id"),
    "delivery.picked_up": SignerFields(actor="courier_id"),
    "delivery.delivered": SignerFields(actor="courier_id"),
    "delivery.failed": SignerFields(actor="courier_id"),
    "delivery.returned": SignerFields(actor="courier_id"),
}
