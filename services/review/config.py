"""Review settings (env prefix REVIEW_)."""

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from services.kit.settings import ServiceSettings
from services.review.rules import CURRENT, PACKS


class ReviewSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REVIEW_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///var/db/review.db"
    port: int = 8102
    auto_approve: bool = Field(
        default=True, description="approve a prescription the rule pack passed without a pharmacist"
    )
    rule_pack: str = Field(
        default=CURRENT, description="the released rule pack new reviews run (to roll a new pack out, or back)"
    )

    @field_validator("rule_pack")
    @classmethod
    def _released(cls, value: str) -> str:
        if value not in PACKS:
            raise ValueError(f"no rule pack {value!r}; released: {', '.join(PACKS)}")
        return value
