"""Fixtures shared by every test layer."""

from __future__ import annotations

import pytest

from datetime import UTC, datetime

from events.identities import Identities, generate_identities

# Keys registered well before the tests' clock (tests.factories.T0).
KEYS_VALID_FROM = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="session")
def identities(tmp_path_factory: pytest.TempPathFactory) -> Identities:
    """The demo community's keys, generated once per test session."""
    return generate_identities(tmp_path_factory.mktemp("keys"), valid_from=KEYS_VALID_FROM)
