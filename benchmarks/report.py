"""Percentiles, profile summaries and the terminal table of a pipeline benchmark."""

from __future__ import annotations

from collections import Counter
from typing import Any


def percentiles(values: list[float]) -> dict[str, float | int | None]:
    """p50/p95/p99/max (nearest rank) and the count."""
    if not values:
        return {"n": 0, "p50": None, "p95": None, "p99": None, "max": None}
    ordered = sorted(values)

    def rank(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, max(0, int(q * len(ordered) + 0.5) - 1))], 1)

    return {"n": len(ordered), "p50": rank(0.50), "p95": rank(0.95), "p99": rank(0.99), "max": round(ordered[-1], 1)}


IDLE_LEAVES = ("Runner.run (", "_connection_worker_thread", "Condition.wait", "select (selectors", "_run_once")


def top_functions(collapsed: str, limit: int = 15) -> dict[str, Any]:
    """From py-spy's collapsed stacks: where the samples were, by self time and by inclusive time
    (per function; idle samples, waiting in the event loop's selector, counted apart)."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = idle = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        total += n
        leaf = frames[-1]
        # Waiting, not working: the event loop in its poll (uvloop shows as Runner.run), the
        # aiosqlite worker thread on its queue, threads parked on a condition.
        if any(w in leaf for w in IDLE_LEAVES):
            idle += n
            continue
        own[_short(leaf)] += n
        for frame in {_short(f) for f in frames}:
            inclusive[frame] += n
    busy = max(1, total - idle)
    return {
        "samples": total, "idle_share": round(idle / total, 3) if total else None,
        "self": [(f, round(n / busy, 3)) for f, n in own.most_common(limit)],
        "inclusive": [(f, round(n / busy, 3)) for f, n in inclusive.most_common(limit * 2)],
    }


def _short(frame: str) -> str:
    # "function (path/to/module.py:123)" -> "function (module.py)"
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    parts = path.split("/")
    short = "/".join(parts[-2:]) if parts else path
    return f"{name} ({short})"


def _lat(d: dict[str, Any]) -> str:
    return f"{d['p50']!s:>8} {d['p95']!s:>8} {d['p99']!s:>8} {d['max']!s:>9}"


def table(report: dict[str, Any]) -> str:
    """The human summary printed at the end of a run."""
    t, lat, cfg = report["throughput"], report["latency_ms"], report["config"]
    lines = [
        f"pipeline: {t['completed']}/{cfg['n']} prescriptions, {cfg['broker']}, {cfg['db']}, {cfg['cores']} cores, "
        f"rate {cfg['rate'] or 'max'}, concurrency {cfg['concurrency']}",
        f"  throughput   {t['prescriptions_per_s']} prescriptions/s overall, {t['prescriptions_per_s_steady']} steady "
        f"(middle 80%); {t['events_per_s']} events/s ({t['events']} events, ~{t['mean_event_bytes']} B)",
        f"  run {t['duration_s']} s, consumers drained {t['drain_after_s']} s later; failed {t['failed']}, "
        f"flagged {t['flagged_by_review']}; HTTP {report['http']['requests']} requests, "
        f"{report['http']['retries_while_a_service_caught_up']} retries",
        *([f"  {t['stopped_early']}"] if t.get("stopped_early") else []),
        f"  delivered per 10 s: {' '.join(map(str, t.get('delivered_per_10s') or []))}",
        "",
        f"  {'latency (ms)':<28} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>9}",
    ]
    for key in ("issued_to_approved", "approved_to_dispensed", "issued_to_delivered", "client_issue_to_delivered"):
        lines.append(f"  {key:<28} {_lat(lat[key])}")
    lines += ["", f"  {'process':<24} {'peak RSS MB':>12} {'CPU s':>8} {'cores':>6}"]
    for name, p in report["processes"].items():
        lines.append(f"  {name:<24} {p['peak_rss_mb']!s:>12} {p['cpu_s']!s:>8} {p['cpu_cores_avg']!s:>6}")
    m = report.get("machine")
    if m:
        lines.append(f"  machine: {m['busy_cpu_s']} CPU s busy of {round(m['cores'] * m['wall_s'], 1)} available; "
                     f"ours {m['ours_cpu_s']}, others' {m['others_cpu_s']}; load {m['loadavg_1m_before_after']}")
    d = report.get("log_delay_ms")
    if d:
        lines.append(f"  log delay (commit -> outbox -> broker -> reader) p50 {d['p50']} p99 {d['p99']} ms")
    lists = report.get("broker_s3_lists")
    if lists:
        lines.append(f"  Tansu's S3 requests: LISTs {lists['list_sent_on']} sent to SeaweedFS, "
                     f"{lists['list_answered_by_front']} answered by the front from its own listing, "
                     f"{lists['list_shared_in_flight']} shared with one in flight, "
                     f"{lists['listings_dropped']} listings dropped by a write of unknown outcome; "
                     f"{lists.get('batch_gets_answered_by_front', 0)} batch GETs answered by the front; relayed: "
                     + ", ".join(f"{n} {kind}" for kind, n in sorted(lists.get("relayed", {}).items())))
    tx = report.get("transactions", {})
    if tx:
        lines += ["", "  transactions / commits (fsyncs): " + ", ".join(
            f"{s} {v['transactions']}/{v['commits (fsyncs)']}" for s, v in tx.items())]
        if all("gc_collections" in v for v in tx.values()):
            lines += ["  garbage collections by generation (young, older, full): " + ", ".join(
                f"{s} {'/'.join(map(str, v['gc_collections']))}" for s, v in tx.items())]
    b = report.get("baselines") or {}
    if b:
        k, e, st = b["kafka_raw"], b["ed25519"], b.get("event_store") or {}
        lines += [
            "", "  baselines (same run, same machine)",
            f"  raw aiokafka, {k['mean_message_bytes']} B: produce pipelined "
            f"{k['produce_pipelined_512KiB_batches_as_outbox_msgs_per_s']} msg/s (512 KiB batches), "
            f"{k['produce_pipelined_default_16KiB_batches_msgs_per_s']} (16 KiB default); "
            f"one at a time {k['produce_one_at_a_time_msgs_per_s']}; consume {k['consume_msgs_per_s']} msg/s",
            f"  Ed25519 ({e['message_bytes']} B): sign {e['sign_per_s']}/s "
            f"(OpenSSL {e.get('sign_openssl_per_s', '-')}/s), verify {e['verify_per_s']}/s "
            f"(OpenSSL {e.get('verify_openssl_per_s', '-')}/s); "
            f"our whole envelope check {e['envelope_verify_per_s']}/s "
            f"(reference verifier {e.get('envelope_verify_reference_per_s', '-')}/s; "
            f"parse only {e['envelope_parse_only_per_s']}/s)",
        ]
        for mode in [m for m in st if m.startswith("append_")]:
            a = st[mode]
            lines.append(f"  event store {mode} ({a['events']} events, 1/tx): "
                         f"ours {a['ours_events_per_s']}/s (signing) "
                         f"vs eventsourcing {a['eventsourcing_events_per_s']}/s -> x{a['ratio_ours_over_theirs']}; "
                         f"ours on bytes sealed beforehand {a['ours_sealed_beforehand_events_per_s']}/s "
                         f"-> x{a['ratio_ours_sealed_beforehand_over_theirs']}")
        cp = b.get("consumer_pipeline") or {}
        for key in [k for k in cp if k.startswith("batch_")]:
            lines.append(f"  consumer pipeline, {key.replace('_', ' ')} per transaction: "
                         f"{cp[key]['events_per_s']} events/s ({cp[key]['events_per_cpu_s']} per CPU s)")
        ld = st.get("load")
        lines += [] if not ld else [f"  event store load: ours {ld['ours_rows_events_per_s']}/s rows, "
                     f"{ld['ours_parsed_events_per_s']}/s parsed vs eventsourcing "
                     f"{ld['eventsourcing_rows_events_per_s']}/s rows -> x{ld['ratio_ours_rows_over_theirs']}"]
    for name, prof in (report.get("profiles") or {}).items():
        lines += ["", f"  profile {name}: {prof['samples']} samples, idle {prof['idle_share']}; top self time:"]
        lines += [f"    {share:>6.1%}  {fn}" for fn, share in prof["self"][:8]]
    return "\n".join(lines)
