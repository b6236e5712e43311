"""The pipeline benchmark runs end to end on a tiny load and writes every field (never timed)."""

from __future__ import annotations

import json

import pytest

from benchmarks import pipeline

pytestmark = pytest.mark.integration

FIELDS = {
    "throughput": ["completed", "failed", "duration_s", "prescriptions_per_s", "prescriptions_per_s_steady",
                   "events", "events_per_s"],
    "latency_ms": ["source", "issued_to_approved", "approved_to_dispensed", "issued_to_delivered",
                   "client_issue_to_delivered"],
    "baselines": ["kafka_raw", "ed25519", "event_store"],
}


def test_a_tiny_run_writes_every_field(tmp_path, capsys):
    code = pipeline.main(["--n", "20", "--quick", "--warmup", "3", "--concurrency", "10", "--out", str(tmp_path),
                          "--var", str(tmp_path / "stack")])
    [written] = tmp_path.glob("pipeline-*.json")
    report = json.loads(written.read_text())
    assert code == 0, report["throughput"]["failures_sample"]
    for section, keys in FIELDS.items():
        assert all(k in report[section] for k in keys), (section, report[section].keys())
    for span in ("issued_to_approved", "approved_to_dispensed", "issued_to_delivered"):
        assert set(report["latency_ms"][span]) >= {"p50", "p95", "p99"} and report["latency_ms"][span]["n"] == 20
    for name in ("prescriber", "review", "pharmacy", "delivery", "tansu", "weed", "s3cache"):
        assert report["processes"][name]["peak_rss_mb"] > 0 and report["processes"][name]["cpu_s"] >= 0
    kafka, sig, store = (report["baselines"][k] for k in ("kafka_raw", "ed25519", "event_store"))
    assert kafka["consume_msgs_per_s"] > 0 and sig["sign_per_s"] > 0 and sig["verify_per_s"] > 0
    assert sig["sign_openssl_per_s"] > 0 and sig["verify_openssl_per_s"] > 0
    assert store["append_one_writer"]["ratio_ours_over_theirs"] > 0 and store["load"]["ours_rows_events_per_s"] > 0
    assert store["append_one_writer"]["ratio_ours_sealed_beforehand_over_theirs"] > 0
    lists = report["broker_s3_lists"]  # Tansu fetched through the S3 front, and it counted
    # The front loaded the partition's listing from SeaweedFS (in the warm-up), then answered
    # the measured run's LISTs from its own copy, and gave readers batches another had fetched.
    assert lists["list_answered_by_front"] > lists["list_sent_on"] and lists["listings_dropped"] == 0, lists
    assert lists["batch_gets_answered_by_front"] > 0 and lists["relayed"]["PUT records"] > 0, lists
    t = report["throughput"]
    assert t["stopped_early"] is None and sum(t["delivered_per_10s"]) == t["completed"] == 20
    assert "throughput" in capsys.readouterr().out  # the table was printed
