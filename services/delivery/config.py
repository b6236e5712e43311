"""Delivery settings (env prefix DELIVERY_)."""

from pydantic_settings import SettingsConfigDict

from services.kit.settings import ServiceSettings


class DeliverySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DELIVERY_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///var/db/delivery.db"
    port: int = 8104
