"""Composition root of the review service: settings, formulary, spec, service."""

from __future__ import annotations

from events.authority import REVIEWERS
from services.kit.service import Service, ServiceSpec
from services.review import store
from services.review.config import ReviewSettings
from services.review.formulary import load_formulary
from services.review.handlers import on_prescription_issued, pages, router

SERVICE_ACTOR = "svc-review"  # signs the automatic verdicts and approvals


def build(settings: ReviewSettings | None = None, **overrides) -> Service:  # type: ignore[no-untyped-def]
    """Wire the review service; overrides (clock, new_id, formulary) are for tests."""
    formulary = overrides.pop("formulary", None) or load_formulary()
    settings = settings or ReviewSettings()
    spec = ServiceSpec(
        name="review",
        title="rxflow 审方 (review)",
        roles=frozenset(REVIEWERS),
        service_actor=SERVICE_ACTOR,
        metadata=store.metadata,
        project=store.project,
        react=on_prescription_issued(formulary, settings.auto_approve),
        routers=[router, pages],
    )
    return Service(spec, settings, **overrides)
