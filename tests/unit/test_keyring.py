"""Keyring validity windows: was key K valid for actor A, with role R, at time T?"""

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from events.keyring import Keyring
from events.schemas import KeyRegistered, KeyRevoked
from events.signing import public_key_text

FROM = datetime(2026, 3, 1, tzinfo=UTC)
UNTIL = datetime(2027, 3, 1, tzinfo=UTC)
REVOKED = datetime(2026, 6, 1, tzinfo=UTC)


def _pub() -> str:
    return public_key_text(Ed25519PrivateKey.generate().public_key())


@pytest.fixture
def ring():
    ring = Keyring("root-1", Ed25519PrivateKey.generate().public_key())
    ring.register(KeyRegistered(key_id="k1", actor_id="dr-wang", role="doctor", org_id="clinic-qiaotou",
                                public_key=_pub(), valid_from=FROM, valid_until=UNTIL))
    return ring


@pytest.mark.parametrize(
    ("at", "valid"),
    [
        (FROM - timedelta(microseconds=1), False),  # not yet registered
        (FROM, True),
        (UNTIL - timedelta(microseconds=1), True),
        (UNTIL, False),  # expired
    ],
)
def test_registration_window(ring, at, valid):
    assert ring.was_valid("k1", "dr-wang", "doctor", at) is valid


def test_revocation_ends_validity_from_its_time_on(ring):
    ring.revoke(KeyRevoked(key_id="k1", revoked_at=REVOKED, reason="手机丢失"))
    assert ring.was_valid("k1", "dr-wang", "doctor", REVOKED - timedelta(seconds=1))
    assert not ring.was_valid("k1", "dr-wang", "doctor", REVOKED)


def test_the_earliest_revocation_wins(ring):
    ring.revoke(KeyRevoked(key_id="k1", revoked_at=REVOKED, reason="first"))
    assert not ring.revoke(KeyRevoked(key_id="k1", revoked_at=REVOKED + timedelta(days=1), reason="later"))
    assert ring.revoke(KeyRevoked(key_id="k1", revoked_at=REVOKED - timedelta(days=1), reason="earlier"))
    assert not ring.was_valid("k1", "dr-wang", "doctor", REVOKED - timedelta(hours=1))


def test_wrong_actor_or_role_is_not_valid(ring):
    at = FROM + timedelta(days=1)
    assert not ring.was_valid("k1", "dr-li", "doctor", at)
    assert not ring.was_valid("k1", "dr-wang", "pharmacist", at)
    assert not ring.was_valid("nope", "dr-wang", "doctor", at)


def test_a_key_id_is_bound_once(ring):
    again = KeyRegistered(key_id="k1", actor_id="mallory", role="doctor", public_key=_pub(), valid_from=FROM)
    assert not ring.register(again)
    assert ring.get("k1").actor_id == "dr-wang"


def test_no_one_can_register_a_second_root_or_revoke_the_root(ring):
    fake_root = KeyRegistered(key_id="root-2", actor_id="x", role="root", public_key=_pub(), valid_from=FROM)
    assert not ring.register(fake_root)
    assert not ring.revoke(KeyRevoked(key_id="root-1", revoked_at=FROM, reason="x"))
