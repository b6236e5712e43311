"""Released packs and formularies never change: each is pinned by a digest, so a replay of any
review on the log gives the findings it gave then."""

from __future__ import annotations

import hashlib
import shutil
from datetime import timedelta
from decimal import Decimal
from importlib import resources

import pytest

from events.canonical import canonical_bytes
from events.schemas import Channel
from services.review import rules
from services.review.formulary import load_formulary, load_from
from services.review.formulary import versions as fv
from tests.factories import T0
from tests.unit.test_review_rules_clinical import AMLODIPINE, AMOXICILLIN, ENALAPRIL, METFORMIN, TELMISARTAN, item, rx

F = load_formulary()
AT = T0 + timedelta(minutes=1)

# A frozen corpus touching every rule of every released pack. Never edit it: a new pack that
# needs more cases gets a corpus of its own.
CORPUS = [
    (rx(), "clinic", AT),
    (rx(), "clinic", T0 + timedelta(days=2)),  # expired on review
    (rx().model_copy(update={"valid_days": 5, "valid_until": T0 + timedelta(days=3)}), "clinic", AT),
    (rx().model_copy(update={"valid_until": T0 - timedelta(minutes=1)}), "clinic", AT),
    (rx(item(AMLODIPINE), item(ENALAPRIL), item(METFORMIN), item(TELMISARTAN), item(AMOXICILLIN),
        item(AMLODIPINE).model_copy(update={"drug_code": "ZZ-UNKNOWN"})), "clinic", AT),
    (rx(item(TELMISARTAN, "40"), item("N02AA01-TAB-10MG", "10", "q4h", days=9), channel=Channel.RETAIL), "clinic", AT),
    (rx(item(AMOXICILLIN, "750", "tid"), item("C09CA07-TAB-40MG", "40", unit="g", route="iv"), age_years=6,
        weight_kg=Decimal(20), allergies=("penicillin",)), "hospital", AT),
    (rx(item(AMOXICILLIN, "250", "tid"), item(METFORMIN, "500", "bid"), age_years=8, sex="F"), "clinic", AT),
    (rx(item(ENALAPRIL, "10"), item("C03DA01-TAB-20MG", "20"), item("C08CA05-SRT-20MG", "20"), item(AMLODIPINE, "1"),
        sex="F", pregnant=True, dx=("I10", "E11.9")), "clinic", AT),
    (rx(item("J01MA12-TAB-500MG", "500"), item("A02AB01-TAB-300MG", "0.6", "tid"), item("G04CB01-TAB-5MG"),
        sex="F", dx=("J18",)), "clinic", AT),
    (rx(item("TCM-DP-HUANGQI", "15")), "clinic", AT),
    (rx(item(AMLODIPINE).model_copy(update={"days": 90})).model_copy(update={"long_term": True}), "clinic", AT),
    (rx(item("N02BE51-GRA-PCM125", "1", "tid"), item("A10BH01-TAB-100MG", "100")).model_copy(
        update={"chronic": True, "emergency": True}), "clinic", AT),
]
PINNED = {
    # Equal to the digest of services/review/rules.py as released in git b48bbda.
    "2026.11.1": "41e987e919cdf1f7ad67f72381e49eecf3bd2dfb26905cf31b2e41b9efaf542f",
    "2026.12.1": "fc09e558320a78ba1e52921dc82db97339019e93682340cc2fc598611e533229",
}


def findings_digest(pack: rules.Pack) -> str:
    runs = [[f.model_dump(mode="json") for f in pack.run(rules.Facts(p, T0, now, F, kind))]
            for p, kind, now in CORPUS]
    return hashlib.sha256(canonical_bytes(runs)).hexdigest()


@pytest.mark.parametrize("version", sorted(PINNED))
def test_a_released_pack_gives_the_findings_it_was_released_with(version):
    assert findings_digest(rules.pack(version)) == PINNED[version], (
        f"pack {version} no longer gives its released findings: leave its rules as they are and put the "
        "change in a new function, in a new pack version (docs/rule-pack.md)")


@pytest.mark.parametrize("version", sorted(PINNED))
def test_the_corpus_makes_every_rule_of_the_pack_speak(version):
    silent = [r.__name__ for r in rules.pack(version).rules
              if not any(r(rules.Facts(p, T0, now, F, kind)) for p, kind, now in CORPUS)]
    assert silent == []


def test_every_released_pack_is_pinned_and_the_current_one_is_the_newest():
    assert set(rules.PACKS) == set(PINNED)
    assert rules.CURRENT == max(rules.PACKS, key=lambda v: tuple(map(int, v.split(".")))) == "2026.12.1"
    assert [r.__name__ for r in rules.pack("2026.11.1").rules] == \
        ["validity_days", "validity_window", "not_expired", "max_drugs", "known_drugs"]
    assert rules.pack().rules[:5] == rules.pack("2026.11.1").rules
    with pytest.raises(KeyError, match="released: 2026.11.1, 2026.12.1"):
        rules.pack("2027.1.1")


def test_the_shipped_formulary_is_pinned_by_its_version():
    assert fv.RELEASED[F.version] == fv.digest(F)
    assert fv.load_version(F.version) is F
    assert fv.load_version(None) is fv.load_version(fv.BEFORE_RECORDING)


def test_a_formulary_changed_without_a_version_bump_or_not_kept_is_refused(monkeypatch):
    fv.load_version.cache_clear()
    monkeypatch.setitem(fv.RELEASED, F.version, "0" * 64)
    with pytest.raises(fv.FormularyUnavailable, match="without a version bump"):
        fv.load_version(F.version)
    fv.load_version.cache_clear()
    with pytest.raises(fv.FormularyUnavailable, match="not kept"):
        fv.load_version("1999.1")


def test_an_archived_formulary_loads_from_its_own_folder(tmp_path):
    shutil.copytree(resources.files("services.review.formulary"), tmp_path / "2025.1",
                    ignore=shutil.ignore_patterns("*.py", "*.md", "__pycache__", "archive"))
    assert fv.digest(load_from(tmp_path / "2025.1")) == fv.RELEASED["2025.1"]
