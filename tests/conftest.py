"""Fixtures shared by every test layer."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from events.identities import Identities, generate_identities, load_identities

# Keys registered well before the tests' clock (tests.factories.T0).
KEYS_VALID_FROM = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding the demo community's identities, made once per test session."""
    path = tmp_path_factory.mktemp("keys")
    generate_identities(path, valid_from=KEYS_VALID_FROM)
    return path


@pytest.fixture(scope="session")
def identities(keys_dir: Path) -> Identities:
    """The demo community's keys, loaded from keys_dir."""
    return load_identities(keys_dir)
