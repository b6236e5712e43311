"""Review settings (env prefix REVIEW_)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.kit.settings import ServiceSettings


class ReviewSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REVIEW_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///var/db/review.db"
    port: int = 8102
    auto_approve: bool = Field(
        default=True, description="approve a prescription the rule pack passed without a pharmacist"
    )
