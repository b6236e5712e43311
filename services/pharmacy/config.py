"""Pharmacy settings (env prefix PHARMACY_)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.kit.settings import ServiceSettings


class PharmacySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PHARMACY_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///var/db/pharmacy.db"
    port: int = 8103
    expiry_interval_s: float = Field(default=5.0, gt=0, description="how often overdue prescriptions expire")
    claim_confirm_timeout_s: float = Field(
        default=5.0, ge=0, description="how long a dispense waits for its claim to come back from the log"
    )
