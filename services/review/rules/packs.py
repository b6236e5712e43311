"""The released rule packs, by version. A released pack is never changed: a changed rule is a
new function in a new pack version, so every review on the log can be re-run as it was decided.
tests/unit/test_review_packs.py pins each released pack's findings over a fixed corpus.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import MappingProxyType

from events.schemas import Finding
from services.review.rules import (
    channel,
    combination,
    dose,
    formatting,
    indication,
    insurance,
    patient,
    prescriber,
    supply,
    validity,
)
from services.review.rules.base import Facts, Rule


@dataclass(frozen=True)
class Pack:
    """One version of the rules, in the order findings are reported."""

    version: str
    rules: tuple[Rule, ...]
    # Rule ids whose findings only an upper-level doctor may decide (ReviewFlagged.needs_upper_review).
    upper_review: frozenset[str] = frozenset()

    def run(self, facts: Facts) -> tuple[Finding, ...]:
        """Every finding of every rule, in pack order."""
        return tuple(f for check in self.rules for f in check(facts))

    def needs_upper_review(self, findings: Sequence[Finding]) -> bool:
        """Does any finding need an upper-level doctor?"""
        return any(f.rule_id in self.upper_review for f in findings)


V2026_11_1 = Pack("2026.11.1", (
    validity.validity_days, validity.validity_window, validity.not_expired,
    formatting.max_drugs, formatting.known_drugs,
))

# Ordered as 医疗机构处方审核规范 reads: legality (第十三条), format (第十四条), suitability
# (第十五条), then insurance, which decides payment only.
V2026_12_1 = Pack("2026.12.1", (
    *V2026_11_1.rules,
    prescriber.village_formulary,
    channel.prohibited_channel,
    supply.supply_days, supply.supply_reason, supply.long_term_max,
    indication.diagnosis_fit,
    dose.dose_unit, dose.weight_missing, dose.over_max, dose.under_min, dose.dose_route,
    combination.duplicate_therapy, combination.interaction_major, combination.interaction_moderate,
    patient.sex, patient.age_limits, patient.pregnancy_contraindicated, patient.pregnancy_caution,
    patient.allergy,
    insurance.self_pay, insurance.documentation,
), upper_review=frozenset({prescriber.VILLAGE_RULE}))

PACKS = MappingProxyType({p.version: p for p in (V2026_11_1, V2026_12_1)})
CURRENT = V2026_12_1.version
