"""Ledger entries: canonical bytes, the hash chain, batch order, signed checkpoints, and Kafka reconstruction."""

from __future__ import annotations

import io
import json
from collections import defaultdict
from datetime import timedelta

import rfc8785

from events.identities import load_root_public_key
from events.schemas import AuditCheckpoint, LedgerSource
from events.seal import seal
from events.verifier import Accepted, Verifier
from services.audit.exportfile import decode_message, load_record
from services.audit.kafka_source import rebuild
from services.audit.ledger import ZERO_HASH, Ledger, LogRecord, Verdict, encode_checkpoint, encode_entry
from services.audit.merkle import MerkleTree, leaf_hash
from services.audit.offline import verify_data
from services.audit.owners import Options
from services.audit.synthlog import write_export
from tests.factories import T0, signed_issue


def ledger_of(keys_dir) -> Ledger:
    return Ledger(load_root_public_key(keys_dir), max_clock_skew=timedelta(minutes=10))


def test_an_entry_is_its_rfc8785_form_even_with_odd_strings():
    record = LogRecord("rx.events", 2, 7, T0, b"\x00\xffnot json")
    verdict = Verdict(True, stream="流-1\u2028\x1f😀", type="prescription.issued")
    line = encode_entry(3, record, verdict, "ab" * 32)
    assert line == rfc8785.dumps(json.loads(line))
    assert decode_message(load_record(line)["message"]) == record.raw
    assert encode_checkpoint(b'{"a":1}') == rfc8785.dumps(json.loads(encode_checkpoint(b'{"a":1}')))


def test_entries_chain_each_to_the_hash_of_the_one_before(keys_dir, identities):
    ledger = ledger_of(keys_dir)
    records = [LogRecord("rx.keys", 0, i, None, raw) for i, raw in enumerate(identities.key_events)]
    appended = ledger.append_batch(records)
    assert json.loads(appended[0].line)["prev"] == ZERO_HASH
    for before, after in zip(appended, appended[1:], strict=False):
        assert json.loads(after.line)["prev"] == leaf_hash(before.line).hex() == before.leaf.hex()
    tree = MerkleTree()
    for a in appended:
        tree.append(leaf_hash(a.line))
    assert ledger.tree.root() == tree.root()


def test_a_batch_puts_key_events_first_then_each_partition_in_offset_order(keys_dir, identities):
    ledger = ledger_of(keys_dir)
    doctor = identities.signer("dr-wang")
    events = [LogRecord("rx.events", p, o, None, signed_issue(doctor, seq=10 * p + o)) for p in (2, 0) for o in (1, 0)]
    keys = [LogRecord("rx.keys", 0, i, None, raw) for i, raw in enumerate(identities.key_events)]
    order = [(a.record.topic, a.record.partition, a.record.offset) for a in ledger.append_batch(events + keys)]
    assert order[:16] == [("rx.keys", 0, i) for i in range(16)]
    assert order[16:] == [("rx.events", 0, 0), ("rx.events", 0, 1), ("rx.events", 2, 0), ("rx.events", 2, 1)]
    assert [s.topic for s in ledger.sources()] == ["rx.keys", "rx.events", "rx.events"]
    assert all(a.verdict.accepted for a in ledger.append_batch([]) + [])  # an empty batch appends nothing


def test_a_checkpoint_is_signed_by_the_auditor_over_the_tree_head(keys_dir, identities):
    ledger = ledger_of(keys_dir)
    ledger.append_batch(LogRecord("rx.keys", 0, i, None, raw) for i, raw in enumerate(identities.key_events))
    raw = ledger.checkpoint(identities.signer("svc-audit"), T0)
    result = Verifier(identities.keyring()).verify(raw)
    assert isinstance(result, Accepted) and result.event.actor == "svc-audit"
    cp = result.event.payload
    assert (cp.tree_size, cp.root_hash) == (16, ledger.tree.root().hex())
    assert cp.sources == (LedgerSource(topic="rx.keys", partition=0, next_offset=16),)
    forged = raw.replace(cp.root_hash.encode(), b"0" * 64)
    assert Verifier(identities.keyring()).verify(forged).reason == "bad_signature"


def test_a_checkpoint_signed_by_another_service_is_refused(keys_dir, identities):
    buf = io.BytesIO()
    write_export(keys_dir, 40, buf, batch=40)
    lines = buf.getvalue().splitlines()
    cp = json.loads(decode_message(load_record(lines[-1])["message"]))["payload"]
    fake = seal(AuditCheckpoint.model_validate(cp), stream_id="ledger", stream_version=1, producer="audit",
                signer=identities.signer("svc-review"), producer_seq=1, occurred_at=T0)
    lines[-1] = encode_checkpoint(fake)
    options = Options("root-1", (keys_dir / "root.pub").read_text().strip())
    outcome = verify_data(b"\n".join(lines) + b"\n", options, workers=1)
    assert [p.kind for p in outcome.problems.sorted()] == ["checkpoint", "checkpoint"]
    assert "is not a checkpoint of svc-audit" in outcome.problems.sorted()[0].detail


def test_the_log_on_kafka_rebuilds_the_service_export_byte_for_byte(keys_dir):
    buf = io.BytesIO()
    write_export(keys_dir, 250, buf, batch=40)
    export = buf.getvalue()
    log: dict[tuple[str, int], list[LogRecord]] = defaultdict(list)
    checkpoints = []
    for line in export.splitlines():
        record = load_record(line)
        raw = decode_message(record["message"])
        if record["kind"] == "checkpoint":
            checkpoints.append(raw)
            continue
        time = T0.fromisoformat(record["log_time"]) if record["log_time"] else None
        log[(record["topic"], record["partition"])].append(
            LogRecord(record["topic"], record["partition"], record["offset"], time, raw))
    shuffled = {source: list(reversed(records)) for source, records in log.items()}
    rebuilt, tail = rebuild(shuffled, checkpoints + checkpoints[-1:], load_root_public_key(keys_dir),
                            timedelta(minutes=10))
    assert (rebuilt, tail) == (export, 0)  # a checkpoint published twice (at least once delivery) counts once
    extra = LogRecord("rx.events", 0, len(log[("rx.events", 0)]), T0, b"late")
    rebuilt, tail = rebuild({**log, ("rx.events", 0): [*log[("rx.events", 0)], extra]}, checkpoints,
                            load_root_public_key(keys_dir), timedelta(minutes=10))
    assert tail == 1 and rebuilt.startswith(export)
