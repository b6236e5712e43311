"""Audit settings (env prefix AUDIT_)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.kit.settings import ServiceSettings


class AuditSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="AUDIT_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///var/db/audit.db"
    port: int = 8105
    checkpoints_topic: str = "rx.checkpoints"
    auditor: str = Field(default="svc-audit", description="the actor whose key signs the checkpoints")
    checkpoint_every: int = Field(default=1000, ge=1, le=100_000, description="entries per batch at most")
    checkpoint_interval_s: float = Field(default=2.0, gt=0, le=3600, description="seal what waits this often")
