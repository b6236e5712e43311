"""Over a thousand random edits, deletions, reorderings and insertions in an export: each one is caught."""

from __future__ import annotations

import io
import multiprocessing
import os
import random
from functools import cache

import pytest

from events.signing import public_key_text, verify_signature
from services.audit.offline import verify_data
from services.audit.owners import Options
from services.audit.synthlog import write_export


@cache
def cached_check(key: bytes, signature: str, message: bytes) -> bool:
    """Ed25519 is a pure function: the mutated copies re-check mostly unchanged messages."""
    return verify_signature(key, signature, message)


@pytest.fixture(scope="module")
def export(keys_dir, identities) -> tuple[bytes, Options]:
    buf = io.BytesIO()
    write_export(keys_dir, 300, buf, batch=60)
    return buf.getvalue(), Options(identities.root.key_id, public_key_text(identities.root.public_key))


def check(data: bytes, options: Options):
    return verify_data(data, options, workers=1, check_signature=cached_check, stop_early=True)


_CASES: list[bytes] = []  # the mutated copies, inherited by the forked checkers


def _detected(args: tuple[int, Options]) -> bool:
    index, options = args
    return not check(_CASES[index], options).ok


def edit_byte(rng: random.Random, data: bytes) -> bytes:
    at = rng.randrange(len(data))
    return data[:at] + bytes([rng.choice([b for b in range(256) if b != data[at]])]) + data[at + 1:]


def delete(rng: random.Random, data: bytes) -> bytes:
    lines = data.splitlines(keepends=True)
    if rng.random() < 0.7:
        del lines[rng.randrange(len(lines))]
        return b"".join(lines)
    at = rng.randrange(len(data))
    return data[:at] + data[at + rng.randint(1, 80):]


def reorder(rng: random.Random, data: bytes) -> bytes:
    lines = data.splitlines(keepends=True)
    i, j = rng.sample(range(len(lines)), 2)
    if rng.random() < 0.5:
        lines[i], lines[j] = lines[j], lines[i]
    else:
        lines.insert(j, lines.pop(i))
    return b"".join(lines)


def insert(rng: random.Random, data: bytes) -> bytes:
    lines = data.splitlines(keepends=True)
    roll = rng.random()
    if roll < 0.5:  # a copy of an existing record
        lines.insert(rng.randrange(len(lines) + 1), lines[rng.randrange(len(lines))])
    elif roll < 0.8:  # bytes somewhere
        at = rng.randrange(len(data) + 1)
        return data[:at] + rng.randbytes(rng.randint(1, 30)) + data[at:]
    else:  # a blank line or a JSON line that is no record
        lines.insert(rng.randrange(len(lines) + 1), rng.choice([b"\n", b'{"kind":"note"}\n', b"{}\n"]))
    return b"".join(lines)


MUTATIONS = [(edit_byte, 640), (delete, 160), (reorder, 160), (insert, 160)]


def test_the_untouched_export_verifies(export):
    data, options = export
    outcome = verify_data(data, options, workers=1)
    assert outcome.ok, outcome.first_problem
    assert outcome.entries == 300 and outcome.accepted == 300 and len(outcome.checkpoints) == 5


@pytest.mark.parametrize(("mutate", "count"), MUTATIONS, ids=[m.__name__ for m, _ in MUTATIONS])
def test_every_mutation_is_detected(export, mutate, count):
    data, options = export
    rng = random.Random(f"tamper-{mutate.__name__}")
    cases: list[bytes] = []
    while len(cases) < count:
        changed = mutate(rng, data)
        if changed != data:  # a mutation that leaves the file as it was does not count
            cases.append(changed)
    _CASES[:] = cases
    assert check(data, options).ok  # warms the signature cache the forked checkers inherit
    try:  # each copy is verified in-process by the offline verifier; the copies share the cores
        with multiprocessing.get_context("fork").Pool(os.cpu_count()) as pool:
            detected = pool.map(_detected, [(i, options) for i in range(len(cases))], chunksize=8)
    finally:
        _CASES.clear()
    missed = [i for i, found in enumerate(detected) if not found]
    for i in missed[:5]:
        where = next((n for n, (a, b) in enumerate(zip(data, cases[i], strict=False)) if a != b), None)
        print(f"undetected {mutate.__name__} #{i}, first changed byte {where}")
    assert not missed, f"{len(missed)} of {count} {mutate.__name__} mutations went unnoticed"
