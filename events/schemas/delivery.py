"""Home delivery, from the dispensing pharmacy to the patient's door."""

from __future__ import annotations

from uuid import UUID

from pydantic import Field

from events.schemas.base import ActorId, EventPayload, Reason


class DeliveryRequested(EventPayload):
    """A dispense for home delivery opened a delivery job."""

    TYPE = "delivery.requested"

    prescription_id: UUID
    delivery_id: UUID
    pharmacy_id: ActorId


class DeliveryAssigned(EventPayload):
    TYPE = "delivery.assigned"

    prescription_id: UUID
    delivery_id: UUID
    courier_id: ActorId


class DeliveryPickedUp(EventPayload):
    TYPE = "delivery.picked_up"

    prescription_id: UUID
    delivery_id: UUID
    courier_id: ActorId


class DeliveryDelivered(EventPayload):
    """Handed to the patient, who showed the pickup code."""

    TYPE = "delivery.delivered"

    prescription_id: UUID
    delivery_id: UUID
    courier_id: ActorId
    code_verified: bool = Field(description="the patient's code matched at the door")


class DeliveryFailed(EventPayload):
    TYPE = "delivery.failed"

    prescription_id: UUID
    delivery_id: UUID
    courier_id: ActorId
    reason: Reason


class DeliveryReturned(EventPayload):
    """The courier brought the drugs back to the dispensing pharmacy."""

    TYPE = "delivery.returned"

    prescription_id: UUID
    delivery_id: UUID
    courier_id: ActorId
    pharmacy_id: ActorId
