"""Composition root of the prescriber: settings, spec, service."""

from __future__ import annotations

from events.authority import Role
from services.kit.service import Service, ServiceSpec
from services.prescriber import store
from services.prescriber.config import PrescriberSettings
from services.prescriber.handlers import WEB, pages, router


def build(settings: PrescriberSettings | None = None, **overrides) -> Service:  # type: ignore[no-untyped-def]
    """Wire the prescriber; overrides (clock, new_id) are for tests."""
    spec = ServiceSpec(
        name="prescriber",
        title="rxflow 开方 (prescriber)",
        roles=frozenset({Role.DOCTOR}),
        service_actor=None,
        metadata=store.metadata,
        project=store.project,
        routers=[router, pages],
        static_dir=str(WEB),
    )
    return Service(spec, settings or PrescriberSettings(), **overrides)
