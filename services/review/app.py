"""Composition root of the review service: settings, formulary, spec, service."""

from __future__ import annotations

from pathlib import Path

from events.authority import REVIEWERS
from services.kit.service import Service, ServiceSpec
from services.review import store
from services.review.config import ReviewSettings
from services.review.formulary import Formulary, load_formulary
from services.review.formulary.versions import BEFORE_RECORDING, load_version
from services.review.handlers import on_prescription_issued, pages, router
from services.review.replay import Formularies

SERVICE_ACTOR = "svc-review"  # signs the automatic verdicts and approvals
WEB = Path(__file__).parent / "web"


def formularies_with(live: Formulary) -> Formularies:
    """Versions for re-runs: the live formulary for its own version, the kept ones otherwise."""
    return lambda version: live if (version or BEFORE_RECORDING) == live.version else load_version(version)


def build(settings: ReviewSettings | None = None, **overrides) -> Service:  # type: ignore[no-untyped-def]
    """Wire the review service; overrides (clock, new_id, formulary) are for tests."""
    given = overrides.pop("formulary", None)
    # The shipped formulary must match its pinned digest, or reviews would cite a version no
    # replay can reproduce: refuse to start instead (formulary/versions.py).
    formulary = given or load_version(load_formulary().version)
    settings = settings or ReviewSettings()
    spec = ServiceSpec(
        name="review",
        title="rxflow 审方 (review)",
        roles=frozenset(REVIEWERS),
        service_actor=SERVICE_ACTOR,
        metadata=store.metadata,
        project=store.project,
        react=on_prescription_issued(formulary, settings.auto_approve, settings.rule_pack),
        routers=[router, pages],
        static_dir=str(WEB),
    )
    service = Service(spec, settings, **overrides)
    # The shipped formulary is checked against its pinned digest on every re-run; a test's own is not.
    service.http.state.formularies = formularies_with(given) if given else load_version
    return service
