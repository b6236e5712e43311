"""The review's rule packs: one small pure function per rule, one module per rule family,
each citing the clause it enforces; packs.py holds every released version, runnable for ever.
docs/rule-pack.md lists the rules.
"""

from services.review.rules.base import Facts, Formulary, Rule, finding
from services.review.rules.packs import CURRENT, PACKS, Pack

RULE_PACK_VERSION = CURRENT  # the pack new reviews run unless settings pin another


def pack(version: str = CURRENT) -> Pack:
    """A released pack by version; KeyError names the versions there are."""
    try:
        return PACKS[version]
    except KeyError:
        raise KeyError(f"no rule pack {version!r}; released: {', '.join(PACKS)}") from None


__all__ = ["CURRENT", "PACKS", "RULE_PACK_VERSION", "Facts", "Formulary", "Pack", "Rule", "finding", "pack"]
