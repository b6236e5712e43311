"""Prescriber settings (env prefix PRESCRIBER_)."""

from pydantic_settings import SettingsConfigDict

from services.kit.settings import ServiceSettings


class PrescriberSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PRESCRIBER_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///var/db/prescriber.db"
    port: int = 8101
