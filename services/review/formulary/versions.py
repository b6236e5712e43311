"""Every formulary version a review on the log may cite, kept loadable, so a replay reads the
facts the rules read when they decided.

The shipped files (manifest.json) are the current version. Before a change to any fact, copy
the folder's JSON files unchanged to archive/<old version>/, then edit and bump the manifest's
version, and pin the new digest in RELEASED. A version whose content no longer matches its pin
is refused on replay rather than silently giving other findings.
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources

from events.canonical import canonical_bytes
from services.review.formulary import Formulary, load_formulary, load_from

# version -> SHA-256 of the RFC 8785 canonical JSON of the validated formulary.
RELEASED: dict[str, str] = {
    "2025.1": "e031f08bcd357f03a2e0f29c9b260dc1f01c3ba151ff5238fcecfc88300829ab",
}
# Reviews decided before events recorded formulary_version (rule pack 2026.11.1) read this one:
# it was the only version shipped while that pack was current.
BEFORE_RECORDING = "2025.1"


class FormularyUnavailable(LookupError):
    """A review cites a formulary version that is not kept, or whose content changed."""


def digest(formulary: Formulary) -> str:
    """The content digest that pins a formulary version."""
    return hashlib.sha256(canonical_bytes(formulary.model_dump(mode="json"))).hexdigest()


def _archived(version: str) -> Formulary | None:
    folder = resources.files(__package__).joinpath("archive", version)
    return load_from(folder) if folder.joinpath("manifest.json").is_file() else None


@cache
def load_version(version: str | None) -> Formulary:
    """The formulary a review cited (None: before versions were recorded), checked against its pin."""
    version = version or BEFORE_RECORDING
    current = load_formulary()
    found = current if current.version == version else _archived(version)
    if found is None:
        raise FormularyUnavailable(f"formulary {version} is not kept (archive/{version}/ is missing)")
    pinned = RELEASED.get(version)
    if pinned != digest(found):
        raise FormularyUnavailable(f"formulary {version} does not match its pinned digest: "
                                   "its facts changed without a version bump")
    return found
