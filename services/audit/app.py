"""Composition root of the audit service."""

from __future__ import annotations

from typing import Any

from services.audit.config import AuditSettings
from services.audit.service import AuditService


def build(settings: AuditSettings | None = None, **overrides: Any) -> AuditService:
    """Wire the audit service; overrides (clock) are for tests."""
    return AuditService(settings or AuditSettings(), **overrides)
