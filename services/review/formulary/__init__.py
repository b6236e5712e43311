"""The medical community's formulary (处方集): JSON data beside this module, loaded once.

An interaction side names a drug code, a class id, or a 7-character WHO ATC substance code
(matching every product of that substance). SOURCES.md says where the facts come from.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

Category = Literal["甲", "乙", "丙"]
Restriction = Literal["children_only", "inpatient_only", "not_payable_alone", "second_line",
                      "specific_indication"]
Controlled = Literal["narcotic", "psychotropic_1", "psychotropic_2", "toxic", "precursor"]
Route = Literal["po", "iv", "im", "sc", "inhal", "topical", "ophthalmic", "sl", "rectal",
                "transdermal", "nasal"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DoseRange(_Frozen):
    """A daily amount in the drug's dose_unit; per_kg means per kg body weight per day."""

    min: float = Field(gt=0)
    max: float = Field(gt=0)
    per_kg: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> DoseRange:
        if self.min > self.max:
            raise ValueError(f"dose range min {self.min} > max {self.max}")
        return self


class Insurance(_Frozen):
    """NRDL category (丙 = not in the list, self-paid) and payment restrictions."""

    category: Category
    restrictions: tuple[Restriction, ...] = ()
    restriction_note_zh: str | None = None


class Drug(_Frozen):
    code: str
    name_zh: str
    name_en: str
    atc_code: str | None
    tcm_category: str | None = None
    class_id: str
    form: str
    route: Route
    strength: str
    dose_unit: str
    adult_daily_dose: DoseRange | None
    child_daily_dose: DoseRange | None
    min_age_years: float | None = None
    dose_note: str | None = None
    insurance: Insurance
    sex: Literal["M", "F"] | None = None
    population: Literal["child_only", "adult_only"] | None = None
    pregnancy: Literal["contraindicated", "caution"] | None = None
    controlled: Controlled | None = None
    online_sale_prohibited: bool
    dual_channel: bool
    cold_chain: bool
    village_clinic: bool
    indications: tuple[str, ...]

    @property
    def match_keys(self) -> frozenset[str]:  # what an interaction side may name
        return frozenset(k for k in (self.code, self.class_id, self.atc_code) if k)


class DrugClass(_Frozen):
    id: str
    group: str
    name_zh: str
    name_en: str
    atc_prefix: str | None
    duplicate_therapy: bool


class Interaction(_Frozen):
    a: str
    b: str
    severity: Literal["major", "moderate"]
    effect_zh: str
    effect_en: str


class Formulary(_Frozen):
    version: str
    effective_date: str
    classes: tuple[DrugClass, ...]
    drugs: tuple[Drug, ...]
    interactions: tuple[Interaction, ...]
    _drugs: dict[str, Drug] = PrivateAttr(default_factory=dict)
    _classes: dict[str, DrugClass] = PrivateAttr(default_factory=dict)

    def model_post_init(self, _context: object) -> None:
        self._drugs.update((d.code, d) for d in self.drugs)
        self._classes.update((c.id, c) for c in self.classes)

    @model_validator(mode="after")
    def _consistent(self) -> Formulary:
        codes = [d.code for d in self.drugs]
        if len(set(codes)) != len(codes):
            raise ValueError("duplicate drug codes")
        class_ids = {c.id for c in self.classes}
        if bad := sorted({d.code for d in self.drugs if d.class_id not in class_ids}):
            raise ValueError(f"drugs with an unknown class: {bad}")
        known = set(codes) | class_ids | {d.atc_code for d in self.drugs if d.atc_code}
        if bad := sorted({s for i in self.interactions for s in (i.a, i.b)} - known):
            raise ValueError(f"interactions naming nothing in the formulary: {bad}")
        return self

    def drug(self, code: str) -> Drug | None:
        return self._drugs.get(code)

    def cls(self, class_id: str) -> DrugClass | None:
        return self._classes.get(class_id)

    def drugs_in_class(self, class_id: str) -> tuple[Drug, ...]:
        return tuple(d for d in self.drugs if d.class_id == class_id)

    def interactions_between(self, code_a: str, code_b: str) -> list[Interaction]:
        """Every listed interaction between two drugs, matched by code, class or ATC substance."""
        a, b = self.drug(code_a), self.drug(code_b)
        if a is None or b is None:
            return []
        ka, kb = a.match_keys, b.match_keys
        return [i for i in self.interactions
                if (i.a in ka and i.b in kb) or (i.a in kb and i.b in ka)]


def _read(root: Traversable, name: str):  # parsed JSON: a list or a dict
    return json.loads(root.joinpath(name).read_text(encoding="utf-8"))


def load_from(root: Traversable) -> Formulary:
    """A formulary from a folder laid out like this one: manifest.json and the files it names."""
    manifest = _read(root, "manifest.json")
    drugs = [d for name in manifest["drugs"] for d in _read(root, name)]
    return Formulary(version=manifest["version"], effective_date=manifest["effective_date"],
                     classes=_read(root, manifest["classes"]), drugs=drugs,
                     interactions=_read(root, manifest["interactions"]))


@cache
def load_formulary() -> Formulary:
    """The shipped formulary, validated once per process."""
    return load_from(resources.files(__package__))
