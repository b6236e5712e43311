"""Composition root of the delivery service: settings, spec, service."""

from __future__ import annotations

from events.authority import Role
from services.delivery import store
from services.delivery.config import DeliverySettings
from services.delivery.handlers import SERVICE_ACTOR, WEB, on_dispensed, pages, router
from services.kit.service import Service, ServiceSpec


def build(settings: DeliverySettings | None = None, **overrides) -> Service:  # type: ignore[no-untyped-def]
    """Wire the delivery service; overrides (clock, new_id) are for tests."""
    spec = ServiceSpec(
        name="delivery",
        title="rxflow 配送 (delivery)",
        roles=frozenset({Role.COURIER, Role.SERVICE}),
        service_actor=SERVICE_ACTOR,
        metadata=store.metadata,
        project=store.project,
        react=on_dispensed,
        routers=[router, pages],
        static_dir=str(WEB),
    )
    return Service(spec, settings or DeliverySettings(), **overrides)
