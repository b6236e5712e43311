"""Format (处方管理办法 第六条、第十五条): drug count and the formulary. Released in 2026.11.1."""

from __future__ import annotations

from events.schemas import Finding
from services.review.rules.base import Facts, finding

MAX_DRUGS = 5


def max_drugs(f: Facts) -> list[Finding]:
    """每张处方不得超过5种药品."""
    n = len(f.issued.items)
    if n <= MAX_DRUGS:
        return []
    return [finding("format.max_drugs", "处方管理办法 第六条", "block",
                    f"一张处方开具{n}种药品，超过5种", f"{n} drugs on one prescription, more than 5")]


def known_drugs(f: Facts) -> list[Finding]:
    """Every drug must be in the medical community's formulary (处方集)."""
    return [
        finding("formulary.unknown_drug", "处方管理办法 第十五条", "pharmacist",
                f"药品编码{item.drug_code}（{item.drug_name}）不在本医共体处方集内",
                f"drug code {item.drug_code} ({item.drug_name}) is not in the formulary", i)
        for i, item in enumerate(f.issued.items)
        if f.formulary.drug(item.drug_code) is None
    ]
