"""The fast verifier gives events.verifier's verdict on the same inputs, and takes its shortcut on honest ones."""

from __future__ import annotations

import io
import json
import random
from datetime import timedelta

import pytest
import rfc8785

from events.fastverify import FastVerifier, canonical_object, fast_canonical
from events.identities import load_root_public_key
from events.schemas import KeyRevoked
from events.seal import seal
from events.signing import b64encode
from events.verifier import Accepted, Verifier
from services.audit.exportfile import decode_message, load_record
from services.audit.synthlog import write_export
from tests.factories import T0, signed_issue


@pytest.fixture(scope="module")
def messages(keys_dir) -> list[bytes]:
    """Messages of every type, in log order, key events first."""
    buf = io.BytesIO()
    write_export(keys_dir, 400, buf, batch=400, trust=True)
    records = (load_record(line) for line in buf.getvalue().splitlines())
    return [decode_message(r["message"]) for r in records if r["kind"] == "entry"]


def both(keys_dir, raws: list[bytes], received=None) -> list[tuple[object, object]]:
    """Each message through both verifiers, each with its own keyring learning keys in log order;
    received (the broker's time) applies to the messages that are not key events."""
    fast = FastVerifier(load_root_public_key(keys_dir))
    slow = Verifier(load_root_public_key(keys_dir))
    out = []
    for index, raw in enumerate(raws):
        received_at = received if index >= 16 else None
        a, b = fast.verify(raw, received_at), slow.verify(raw, received_at)
        for verifier, result in ((fast, a), (slow, b)):
            if isinstance(result, Accepted) and result.event.type.startswith("key."):
                verifier.keyring.apply(result.event.payload)
        out.append((a, b))
    return out


def same(a, b) -> bool:
    if isinstance(a, Accepted) or isinstance(b, Accepted):
        return isinstance(a, Accepted) and isinstance(b, Accepted) and a.event == b.event and a.raw == b.raw
    return (a.reason, a.detail, a.event_id) == (b.reason, b.detail, b.event_id)


def test_honest_messages_take_the_shortcut_and_agree(keys_dir, messages):
    results = both(keys_dir, messages)
    assert all(same(a, b) for a, b in results)
    assert all(isinstance(a, Accepted) for a, _ in results)
    assert {a.event.type for a, _ in results} >= {"key.registered", "prescription.issued", "prescription.dispensed",
                                                  "delivery.assigned", "prescription.rejected"}
    fast = FastVerifier(load_root_public_key(keys_dir))
    for raw in messages:
        result = fast.verify(raw)
        if result.event.type.startswith("key."):
            fast.keyring.apply(result.event.payload)
    assert fast.fast_hits == len(messages)  # nothing went the slow way


def test_every_single_byte_change_gets_the_same_verdict(keys_dir, messages):
    rng = random.Random(8785)
    changed = []
    for _ in range(1500):
        raw = rng.choice(messages[16:])
        at = rng.randrange(len(raw))
        changed.append(raw[:at] + bytes([rng.randrange(256)]) + raw[at + 1:])
    results = both(keys_dir, messages[:16] + changed)
    assert all(same(a, b) for a, b in results)


def test_respaced_reordered_and_odd_json_get_the_same_verdict(keys_dir, messages):
    obj = json.loads(messages[20])
    odd = [
        json.dumps(obj).encode(), json.dumps(obj, indent=1, ensure_ascii=False).encode(),  # respaced, escaped
        json.dumps(dict(reversed(obj.items())), ensure_ascii=False).encode(),  # keys out of order
        messages[20] + b" ", b" " + messages[20], b"\xef\xbb\xbf" + messages[20],  # whitespace, BOM
        messages[20].replace(b'{"actor"', b'{"actor":"x","actor"', 1),  # a duplicate key
        messages[20].replace(b'"schema_version":1', b'"schema_version":1.0'),  # a float spelling
        messages[20].replace(b'"schema_version":1', b'"schema_version":NaN'),
        messages[20].replace(b'"stream_version":1', b'"stream_version":12345678901234567890'),
        b"", b"null", b"[]", b"{}", b'{"payload":{}}',
    ]
    results = both(keys_dir, messages[:16] + odd)
    assert all(same(a, b) for a, b in results), [(a, b) for a, b in results if not same(a, b)]


def signed_text(unsigned: str, signer) -> bytes:
    """Wire bytes whose signature covers exactly `unsigned`, canonical or not: what a key holder could craft."""
    signature = signer.sign(unsigned.encode())
    return unsigned.replace(',"stream_id":', f',"signature":"{signature}","stream_id":', 1).encode()


def with_payload(raw: bytes, **extra) -> str:
    """The canonical text of an envelope without its signature, with extra payload fields."""
    obj = json.loads(raw)
    obj.pop("signature")
    obj["payload"].update(extra)
    return rfc8785.dumps(obj).decode()


def test_a_key_holder_cannot_slip_past_with_bytes_that_are_not_canonical(keys_dir, identities):
    doctor = identities.signer("dr-wang")
    raw = signed_issue(doctor)
    astral = signed_text(with_payload(raw, **{"😀": 1, "\uffff": 2}), doctor)  # UTF-16 order differs from Python's
    floats = signed_text(with_payload(raw, x=1).replace('"x":1', '"x":1.0'), doctor)  # 1.0 is 1 in RFC 8785
    spaced = signed_text(with_payload(raw).replace('"actor":', '"actor": '), doctor)
    controls = signed_text(with_payload(raw, note="a\u2028b\x1f"), doctor)
    big = signed_text(with_payload(raw, big=1).replace('"big":1', f'"big":{2**60}'), doctor)  # beyond 2^53
    crafted = [astral, floats, spaced, controls, big]
    results = both(keys_dir, [*identities.key_events, raw, *crafted])
    assert all(same(a, b) for a, b in results), [(a, b) for a, b in results if not same(a, b)]
    verdicts = [isinstance(b, Accepted) for _, b in results[-5:]]
    assert verdicts == [True, False, False, True, False]  # canonical ones pass, crafted bytes do not
    fast = FastVerifier(identities.keyring())
    assert fast.fast(astral) is None and fast.fast(controls) is not None


def test_revoked_keys_and_backdating_get_the_same_verdict(keys_dir, identities):
    root = identities.root
    revoke = seal(KeyRevoked(key_id="dr-wang-k1", revoked_at=T0, reason="钥匙遗失"), stream_id="dr-wang-k1",
                  stream_version=2, producer="platform", signer=root, producer_seq=99, occurred_at=T0)
    doctor = identities.signer("dr-wang")
    early, late = signed_issue(doctor, at=T0 - timedelta(hours=1)), signed_issue(doctor, at=T0 + timedelta(hours=1))
    results = both(keys_dir, [*identities.key_events, early, revoke, late, early])
    assert all(same(a, b) for a, b in results)
    assert [isinstance(a, Accepted) for a, _ in results[-4:]] == [True, True, False, True]
    backdated = both(keys_dir, [*identities.key_events, early], received=T0 + timedelta(minutes=5))
    assert all(same(a, b) for a, b in backdated) and backdated[-1][0].reason == "clock_skew"


def test_fast_canonical_is_rfc8785():
    values = [{"b": 1, "a": [True, None, "中文\n\u001f"]}, {"x": 1.5}, {"😀": 1, "\uffff": 2}, {"y": -0.0}]
    for value in values:
        assert fast_canonical(value) == rfc8785.dumps(value)
    with pytest.raises(rfc8785.IntegerDomainError):
        fast_canonical({"n": 2**60})
    assert canonical_object(rfc8785.dumps(values[0])) == values[0]
    assert canonical_object(b'{"a": 1}') is None and canonical_object(b64encode(b"x").encode()) is None


def test_the_quick_signature_check_agrees_with_events_signing(identities):
    from events.fastverify import signature_ok
    from events.signing import public_key_bytes, verify_signature

    doctor, rng = identities.signer("dr-wang"), random.Random(25519)
    message = b"what the doctor signed"
    good = doctor.sign(message)
    texts = [good, good[:-1] + "B", good[:-1] + "Q", good + "A", good[:-1], "+" + good[1:], "/" + good[1:],
             good[:10] + "=" + good[11:], good.replace(good[5], "-", 1), ""]
    texts += ["".join(rng.choice(good + "+/=_-") for _ in range(86)) for _ in range(300)]
    public = public_key_bytes(doctor.public_key)
    for text in texts:
        for msg in (message, message + b"!"):
            assert signature_ok(public, text, msg) == verify_signature(doctor.public_key, text, msg), text
    assert signature_ok(public, good, message)


def test_a_batch_gives_what_one_at_a_time_gives_even_when_keys_arrive_inside_it(keys_dir, messages):
    rng = random.Random(128)
    mixed = [m if rng.random() < 0.9 else m[:-9] + b"tampered}" for m in messages[16:200]]
    items = [(raw, None) for raw in [*mixed[:20], *messages[:16], *mixed[20:]]]  # keys in the middle
    batched = FastVerifier(load_root_public_key(keys_dir)).verify_batch(items)
    single = [a for a, _ in both(keys_dir, [raw for raw, _ in items])]
    assert [type(r) for r in batched] == [type(r) for r in single]
    assert all(same(a, b) for a, b in zip(batched, single, strict=True))
    assert sum(isinstance(r, Accepted) for r in batched[:20]) == 0  # no key was known yet


def test_every_float_big_integer_and_astral_key_is_seen_as_not_plain():
    from events.fastverify import plain

    rng = random.Random(53)
    for _ in range(5000):
        number = rng.choice([rng.random() * 10 ** rng.randint(-30, 30), -rng.random(), float(rng.randint(-9, 9)),
                             rng.randint(-2**70, 2**70), 2**53, -(2**53), 1e16, 1e21, 1e-7, -0.0])
        holder = rng.choice([number, [number], ["x:1.5", number], {"b": number}, [1, number, 2], [[number]]])
        text = json.dumps({"a": "08:00:00.000000Z", "n": holder, "z": [1, "2"]}, separators=(",", ":"))
        odd = isinstance(number, float) or abs(number) >= 2**53
        assert not (odd and plain(text.encode())), text
    assert plain(b'{"a":"2026-11-19T08:00:00.000000Z","b":[1,-2,{"c":999999999999999}],"d":"80000000194500000000"}')
    assert not plain('{"😀":1}'.encode()) and not plain(b'{"a":[1,2.5]}') and not plain(b'{"a":-1E+2}')


def test_canonical_object_accepts_exactly_the_rfc8785_spelling_of_plain_json():
    texts = ["".join(map(chr, range(0x80))), "é中\u2028\u2029\x7f\ufeff\uffff", "a/b\"c\\d"]
    for text in texts:
        value = {"k": text, "l": [text, {"m": text}], "z": None}
        canonical = rfc8785.dumps(value)
        assert canonical_object(canonical) == value
        escaped = json.dumps(value, separators=(",", ":")).encode()  # \u escapes where RFC 8785 has none
        assert (canonical_object(escaped) is None) == (escaped != canonical)
    nested = {"b": [{"d": 1, "c": 2}], "a": 1}  # an inner object out of order
    assert canonical_object(json.dumps(nested, separators=(",", ":")).encode()) is None
    assert canonical_object(rfc8785.dumps(nested)) == nested
