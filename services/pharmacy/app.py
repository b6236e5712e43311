"""Composition root of the pharmacy: settings, spec, service."""

from __future__ import annotations

from events.authority import Role
from services.kit.service import Service, ServiceSpec
from services.pharmacy import store
from services.pharmacy.config import PharmacySettings
from services.pharmacy.expiry import SERVICE_ACTOR, expiry_loop
from services.pharmacy.handlers import page, router


def build(settings: PharmacySettings | None = None, **overrides) -> Service:  # type: ignore[no-untyped-def]
    """Wire the pharmacy; overrides (clock, new_id) are for tests."""
    spec = ServiceSpec(
        name="pharmacy",
        title="rxflow 药房 (pharmacy)",
        roles=frozenset({Role.PHARMACY, Role.SERVICE}),
        service_actor=SERVICE_ACTOR,
        metadata=store.metadata,
        project=store.project,
        routers=[router, page],
        background=[expiry_loop],
    )
    return Service(spec, settings or PharmacySettings(), **overrides)
