"""Shared helpers of the formulary tests: the loaded formulary and lookups by ATC code."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from services.review.formulary import Drug, Formulary, load_formulary

PKG = "services.review.formulary"
INJECTABLE = {"injection", "powder_for_injection"}


@pytest.fixture(scope="module")
def f() -> Formulary:
    return load_formulary()


def by_atc(f: Formulary, atc: str) -> list[Drug]:
    return [d for d in f.drugs if d.atc_code == atc]


def one(f: Formulary, atc: str, form: str | None = None) -> str:
    return next(d.code for d in by_atc(f, atc) if form is None or d.form == form)


def raw(name: str):
    """One of the formulary's JSON files, as shipped."""
    return json.loads(resources.files(PKG).joinpath(name).read_text(encoding="utf-8"))


def group_of(f: Formulary, d: Drug) -> str:
    return f.cls(d.class_id).group
