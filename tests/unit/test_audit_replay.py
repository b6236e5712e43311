"""Replay and report: the same states as events.lifecycle.fold, the planted violations found, in any worker count."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import replace
from datetime import timedelta

import pytest

from events.fastverify import FastVerifier
from events.identities import load_root_public_key
from events.lifecycle import TRANSITIONS, fold
from services.audit.cli import main as audit
from services.audit.exportfile import decode_message, load_record
from services.audit.folding import StreamFold, summary
from services.audit.offline import verify_data
from services.audit.owners import Options
from services.audit.synth import T0, _pid, _scenario
from services.audit.synthlog import write_export


@pytest.fixture(scope="module")
def export(keys_dir, tmp_path_factory):
    path = tmp_path_factory.mktemp("audit") / "ledger.jsonl"
    with path.open("wb") as out:
        write_export(keys_dir, 4000, out, batch=500, trust=True, spacing=timedelta(minutes=12))
    return path


@pytest.fixture(scope="module")
def options(keys_dir) -> Options:
    return Options("root-1", (keys_dir / "root.pub").read_text().strip())


@pytest.fixture(scope="module")
def events(keys_dir, export):
    """Every verified lifecycle event, in log order."""
    verifier, out = FastVerifier(load_root_public_key(keys_dir)), []
    for line in export.read_bytes().splitlines():
        record = load_record(line)
        if record["kind"] == "entry":
            event = verifier.verify(decode_message(record["message"])).event
            if event.type.startswith("key."):
                verifier.keyring.apply(event.payload)
            elif event.type in TRANSITIONS:
                out.append(event)
    return out


def reference(events, as_of=None) -> dict[str, tuple]:
    """events.lifecycle.fold, stream by stream: the states and void event ids."""
    streams = defaultdict(list)
    for e in events:
        if as_of is None or e.occurred_at <= as_of:
            streams[e.stream_id].append(e)
    return {sid: fold(sid, es) for sid, es in streams.items()}


def test_folding_event_by_event_gives_what_lifecycle_fold_gives(events):
    voids = set()
    incremental = StreamFold(observer=lambda _s, e, why, _l: voids.add(str(e.event_id)) if why else None)
    for line, event in enumerate(events):
        incremental.apply(event, line)
    expected = reference(events)
    assert {sid: state for sid, (state, _) in expected.items() if state.version} == \
           {sid: s for sid, s in incremental.states.items()}
    assert voids == {v.event_id for _, vs in expected.values() for v in vs} and voids


def test_folding_agrees_with_lifecycle_fold_on_shuffled_repeated_and_illegal_histories(events):
    rng = random.Random(1962)
    streams = defaultdict(list)
    for e in events:
        streams[e.stream_id].append(e)
    for history in list(streams.values())[:300]:
        mangled = [*history, *rng.sample(history, k=min(2, len(history)))]  # replays
        rng.shuffle(mangled)
        mangled += [replace_version(rng.choice(history), v) for v in range(1, 4)]  # stale and out-of-turn
        expected, voids = fold(history[0].stream_id, mangled)
        seen: list[str] = []
        incremental = StreamFold(observer=lambda _s, e, why, _l, out=seen: out.append(str(e.event_id)) if why else None)
        for line, event in enumerate(mangled):
            incremental.apply(event, line)
        assert incremental.states.get(history[0].stream_id, expected) == expected
        assert seen == [v.event_id for v in voids]


def replace_version(event, version: int):
    return event.model_copy(update={"stream_version": version})


@pytest.mark.parametrize("workers", [1, 2])
def test_replay_as_of_a_moment_matches_the_reference_in_any_worker_count(export, options, events, workers):
    as_of = T0 + timedelta(days=2)
    data = export.read_bytes()
    outcome = verify_data(data, replace(options, fold="replay", as_of=as_of), workers=workers)
    assert outcome.ok, outcome.first_problem
    expected = sorted((summary(s) for s, _ in reference(events, as_of).values() if s.version),
                      key=lambda s: s["prescription_id"])
    assert sorted(outcome.states, key=lambda s: s["prescription_id"]) == expected
    assert outcome.voids == sum(len(v) for _, v in reference(events, as_of).values())


def test_the_report_finds_the_planted_violations_the_same_way_in_parallel(export, options, events):
    data = export.read_bytes()
    one = verify_data(data, replace(options, fold="report"), workers=1).report.to_dict()
    two = verify_data(data, replace(options, fold="report"), workers=2).report.to_dict()
    assert one == two
    found = {k: v["count"] for k, v in one["findings"].items()}
    for category in ("dispensed_twice", "dispensed_after_cancellation", "dispensed_after_expiry",
                     "controlled_outside_hospital", "pharmacist_overrides", "failed_deliveries", "void_events",
                     "trace_code_reused"):
        assert found[category] > 0, category
    assert found["dispensed_without_approval"] == 0
    narcotic = one["findings"]["controlled_outside_hospital"]["examples"][0]
    assert "N02AA01-TAB-10MG" in narcotic["detail"] and narcotic["actor"].startswith("ph-")
    # Every planted reuse on the log is found, and nothing else.
    reusers = {str(_pid(n)) for n in range(2000) if _scenario(n) == "pack_reused"}
    planted = sum(1 for e in events if e.type == "prescription.dispensed" and e.stream_id in reusers)
    assert found["trace_code_reused"] == planted > 0
    reuse = one["findings"]["trace_code_reused"]["examples"][0]
    assert reuse["prescription_id"] not in reuse["detail"] and "追溯码 8" in reuse["detail"]
    figures = one["figures"]
    assert sum(figures["dispensed_per_pharmacy"].values()) == sum(figures["dispensed_by_pharmacy_kind"].values())
    assert abs(sum(c["share"] for c in figures["channels"].values()) - 1) < 0.01
    assert sum(figures["by_status"].values()) == figures["prescriptions"]


def test_the_command_line_verifies_replays_reports_and_names_the_first_bad_line(export, keys_dir, tmp_path, capsys):
    root = ["--root-pub", str(keys_dir / "root.pub")]
    assert audit(["verify", "--file", str(export), *root, "--workers", "2"]) == 0
    assert "OK: every signature" in capsys.readouterr().out
    states = tmp_path / "states.jsonl"
    assert audit(["replay", "--file", str(export), *root, "--as-of", "2026-11-20T20:00:00+08:00",
                  "--out", str(states)]) == 0
    assert all(json.loads(line)["issued_at"] <= "2026-11-20T12:00:00.000000Z" for line in states.open())
    html, report = tmp_path / "r.html", tmp_path / "r.json"
    assert audit(["report", "--file", str(export), *root, "--json", str(report), "--html", str(html)]) == 0
    page = html.read_text(encoding="utf-8")
    assert "电子处方流转监管报告" in page and "重复发药" in page and page.count("<svg") >= 3
    assert "http://" not in page and "https://" not in page and "<script" not in page  # self-contained
    assert json.loads(report.read_text())["verification"]["ok"] is True
    lines = export.read_bytes().splitlines(keepends=True)
    lines[1000] = lines[1000].replace(b'"partition":', b'"partition":1', 1)
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"".join(lines))
    capsys.readouterr()
    assert audit(["verify", "--file", str(bad), *root]) == 1
    assert "first bad entry: line 1001" in capsys.readouterr().out
    assert audit(["verify", "--file", str(tmp_path / "missing.jsonl"), *root]) == 2
