"""Every lifecycle event has a schema, an authority and a place in the discriminated union."""

from events.authority import AUTHORITY
from events.catalog import DEFAULT_CATALOG, AnyEvent
from events.schemas import ALL_PAYLOADS
from events.verifier import Accepted, Verifier
from tests.factories import signed_issue

LIFECYCLE = {
    "prescription.issued", "review.passed", "review.flagged", "prescription.approved",
    "prescription.rejected", "prescription.cancelled", "prescription.expired",
    "prescription.claimed", "prescription.released", "prescription.dispensed",
    "delivery.requested", "delivery.assigned", "delivery.picked_up", "delivery.delivered",
    "delivery.failed", "delivery.returned", "key.registered", "key.revoked", "audit.checkpoint",
}


def test_catalog_covers_the_lifecycle_and_authority_covers_the_catalog():
    assert set(DEFAULT_CATALOG.payloads) == LIFECYCLE
    assert set(AUTHORITY) == LIFECYCLE
    assert len({p.TYPE for p in ALL_PAYLOADS}) == len(ALL_PAYLOADS)


def test_the_union_discriminates_by_type(identities):
    import json
    raw = signed_issue(identities.signer("dr-wang"))
    event = AnyEvent.validate_python(json.loads(raw))
    assert type(event).__name__ == "PrescriptionIssuedEvent"


def test_wire_form_round_trips_through_the_verifier(identities):
    raw = signed_issue(identities.signer("dr-wang"))
    event = Verifier(identities.keyring()).verify(raw)
    assert isinstance(event, Accepted)
    from events.canonical import canonical_bytes
    assert canonical_bytes(event.event.wire_dict()) == raw
