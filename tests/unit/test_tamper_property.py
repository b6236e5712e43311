"""Property: any change to a signed envelope that changes its meaning is rejected."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.verifier import Accepted, Verifier
from tests.factories import signed_issue

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _meaning(raw: bytes):
    try:
        return json.loads(raw)
    except ValueError:
        return None


@SETTINGS
@given(data=st.data())
def test_any_single_byte_change_is_rejected_unless_meaning_is_unchanged(identities, data):
    raw = signed_issue(identities.signer("dr-wang"))
    verifier = Verifier(identities.keyring())
    index = data.draw(st.integers(0, len(raw) - 1))
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != raw[index]))
    changed = raw[:index] + bytes([byte]) + raw[index + 1:]
    result = verifier.verify(changed)
    if isinstance(result, Accepted):
        assert _meaning(changed) == _meaning(raw), f"accepted a changed meaning at byte {index}"


def _leaves(obj, path=()):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _leaves(v, (*path, i))
    else:
        yield path, obj


def _set(obj, path, value):
    for step in path[:-1]:
        obj = obj[step]
    obj[path[-1]] = value


@SETTINGS
@given(data=st.data())
def test_swapping_the_values_of_two_fields_is_rejected(identities, data):
    raw = signed_issue(identities.signer("dr-wang"))
    verifier = Verifier(identities.keyring())
    obj = json.loads(raw)
    leaves = [leaf for leaf in _leaves(obj) if leaf[0] != ("signature",)]
    i, j = data.draw(st.lists(st.integers(0, len(leaves) - 1), min_size=2, max_size=2, unique=True))
    (path_a, a), (path_b, b) = leaves[i], leaves[j]
    _set(obj, path_a, b)
    _set(obj, path_b, a)
    changed = json.dumps(obj, ensure_ascii=False).encode()
    result = verifier.verify(changed)
    if (type(a), a) != (type(b), b):  # True == 1 in Python, not in JSON
        assert not isinstance(result, Accepted), f"accepted {path_a} <-> {path_b}"
    else:
        assert isinstance(result, Accepted)


@SETTINGS
@given(data=st.data())
def test_reordering_keys_or_spacing_keeps_meaning_and_still_verifies(identities, data):
    raw = signed_issue(identities.signer("dr-wang"))
    obj = json.loads(raw)
    keys = data.draw(st.permutations(list(obj)))
    respaced = json.dumps({k: obj[k] for k in keys}, indent=data.draw(st.sampled_from([None, 1, 2])))
    assert isinstance(Verifier(identities.keyring()).verify(respaced.encode()), Accepted)
