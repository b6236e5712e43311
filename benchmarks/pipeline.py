"""`make bench`: prescriptions through the whole lifecycle, every service in its own process on
the embedded durable broker (Tansu on SeaweedFS), next to what bounds it, measured in the same run.

    python -m benchmarks.pipeline [--n 10000 | --quick] [--rate 120] [--concurrency 200] [--profile]

Writes benchmarks/results/pipeline-<timestamp>.json and prints a table. Latencies come from
the signed events' occurred_at on the log (each service's clock; all on this machine), and
the client's own clock for issue -> delivered as the driver saw it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import resource
import shutil
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from benchmarks import baselines, procstat, store_baseline
from benchmarks.driver import DONE, Driver, LogWatcher
from benchmarks.profiler import Profiler
from benchmarks.report import percentiles, table
from events.identities import load_identities
from events.verifier import read_verified
from infra.s3_list_cache import read_stats
from infra.stack import Stack, StackConfig

SERVICES = ("prescriber", "review", "pharmacy", "delivery")
RESULTS = Path(__file__).parent / "results"
log = logging.getLogger("rxflow.bench")


async def consumer_lag(bootstrap: str, groups: tuple[str, ...], topic: str = "rx.events") -> dict[str, int]:
    """Records on the topic each group has not committed yet."""
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await probe.start()
    try:
        await probe._client.force_metadata_update()
        parts = [TopicPartition(topic, p) for p in sorted(probe.partitions_for_topic(topic) or ())]
        ends = await probe.end_offsets(parts)
    finally:
        await probe.stop()
    lag = {}
    for group in groups:
        # OffsetFetch through a group consumer: Tansu does not answer the admin client's variant.
        reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
        await reader.start()
        try:
            # Tansu may report the high watermark a moment late: a commit past it is no lag.
            lag[group] = sum([max(0, ends[p] - ((await reader.committed(p)) or 0)) for p in parts])
        finally:
            await reader.stop()
    return lag


async def wait_drained(bootstrap: str, timeout_s: float = 300) -> float:
    """Seconds until every service has committed the whole log."""
    began = time.monotonic()
    while time.monotonic() - began < timeout_s:
        if not any((await consumer_lag(bootstrap, SERVICES)).values()):
            return time.monotonic() - began
        await asyncio.sleep(0.2)
    raise TimeoutError("consumers did not catch up")


async def _health(stack: Stack) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=5) as client:
        return {s: (await client.get(f"{stack.url(s)}/health")).json() for s in SERVICES}


def _pids(stack: Stack) -> dict[str, int]:
    pids = {name: child.pid for name, child in stack.children.items() if child.pid}
    if stack.broker:
        pids.update({child.name: child.pid for child in stack.broker.children if child.pid})
    return pids


def _s3_lists(stack: Stack) -> dict[str, Any]:
    port = stack.broker.s3_cache_port if stack.broker else None
    return {} if port is None else read_stats(port)


def _since(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The S3 front's counts during the measured run (they may nest: requests by kind)."""
    return {k: _since(before.get(k, {}), v) if isinstance(v, dict) else v - before.get(k, 0)
            for k, v in after.items()}


async def measure(stack: Stack, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Warm up, run the load, drain, and collect everything but the baselines."""
    ids = load_identities(stack.keys_dir)
    tokens = ids.secrets.tokens  # type: ignore[union-attr]
    urls = {s: stack.url(s) for s in SERVICES}
    bootstrap = stack.broker.bootstrap  # type: ignore[union-attr]
    watcher = LogWatcher(bootstrap, keep_raw_streams=args.sample_streams)
    await watcher.start()
    try:
        async with Driver(urls, tokens, watcher) as driver:
            # Warm-up (group joins, connections, caches), not counted.
            await driver.run(args.warmup, None, 16)
            await wait_drained(bootstrap)
            watcher.reset()
            driver.reset()
            pids = _pids(stack)
            health_before = await _health(stack)
            lists_before = _s3_lists(stack)
            before = procstat.sample_all(pids)
            busy_before, load_before = procstat.machine_busy_s(), procstat.loadavg()
            usage_before = resource.getrusage(resource.RUSAGE_SELF)
            profiled = {s: pids[s] for s in stack.children if s in pids}  # every service, the audit too
            profiler = Profiler(profiled, work / "profiles") if args.profile else None
            if profiler:
                profiler.start()
            began = time.time()
            results = await driver.run(args.n, args.rate, args.concurrency, args.stall_s or None)
            driven = time.time() - began
            drain_s = await wait_drained(bootstrap)
            profiles = profiler.stop() if profiler else {}
            after = procstat.sample_all(pids)
            busy_after, load_after = procstat.machine_busy_s(), procstat.loadavg()
            usage_after = resource.getrusage(resource.RUSAGE_SELF)
            health_after = await _health(stack)
            lists_after = _s3_lists(stack)
    finally:
        await watcher.stop()
    done = sorted(watcher.events[p][DONE].seen_at for p in results if p and DONE in watcher.events[p])
    steady = None
    if len(done) >= 20:  # the middle 80% of completions: no ramp-up, no tail
        lo, hi = len(done) // 10, len(done) - len(done) // 10 - 1
        steady = round((hi - lo) / (done[hi] - done[lo]), 1) if done[hi] > done[lo] else None
    window = (watcher.last_at or began) - (watcher.first_at or began)

    def span(a: str, b: str) -> list[float]:
        return [(e[b].occurred_at - e[a].occurred_at) * 1000 for p in results if p
                for e in [watcher.events[p]] if a in e and b in e]

    stats = driver.stats
    client = [(stats.done_at_client[p] - stats.issued_at_client[p]) * 1000 for p in results
              if p in stats.done_at_client and p in stats.issued_at_client]
    processes = {}
    for name, s in after.items():
        cpu = s.cpu_s - before[name].cpu_s if name in before else s.cpu_s
        processes[name] = {"peak_rss_mb": round(s.peak_rss_mb, 1), "rss_mb_end": round(s.rss_mb, 1),
                           "cpu_s": round(cpu, 2), "cpu_cores_avg": round(cpu / (driven + drain_s), 2)}
    driver_cpu = (usage_after.ru_utime + usage_after.ru_stime) - (usage_before.ru_utime + usage_before.ru_stime)
    processes["driver (load generator)"] = {
        "peak_rss_mb": round(usage_after.ru_maxrss / 1024, 1), "rss_mb_end": None,
        "cpu_s": round(driver_cpu, 2), "cpu_cores_avg": round(driver_cpu / (driven + drain_s), 2)}
    ours = sum(p["cpu_s"] for p in processes.values())
    wall = driven + drain_s
    machine = {
        "cores": os.cpu_count(), "wall_s": round(wall, 1),
        "busy_cpu_s": round(busy_after - busy_before, 1), "ours_cpu_s": round(ours, 1),
        # Anything else running on the machine meanwhile (other people's tests share the cores).
        "others_cpu_s": round(max(0.0, busy_after - busy_before - ours), 1),
        "loadavg_1m_before_after": [load_before, load_after],
    }
    groups = {s: {"transactions": health_after[s]["db_writes"] - health_before[s]["db_writes"],
                  "commits (fsyncs)": health_after[s]["db_commits"] - health_before[s]["db_commits"],
                  # Garbage collections by generation during the run (services/kit/gc_policy.py).
                  "gc_collections": [a - b for a, b in zip(health_after[s]["gc"]["collections"],
                                                           health_before[s]["gc"]["collections"], strict=True)]}
              for s in SERVICES}
    return {
        "throughput": {
            "completed": len(done), "failed": len(stats.failed), "failures_sample": stats.failed[:5],
            "duration_s": round(driven, 2), "drain_after_s": round(drain_s, 2),
            "prescriptions_per_s": round(len(done) / driven, 1) if driven else None,
            "prescriptions_per_s_steady": steady,
            "events": watcher.count, "events_per_s": round(watcher.count / window, 1) if window else None,
            "mean_event_bytes": round(watcher.bytes / watcher.count) if watcher.count else None,
            "flagged_by_review": stats.flagged,
            "stopped_early": stats.stopped,
            # Deliveries in each 10 s of the run: whether the rate held or decayed as the log grew.
            "delivered_per_10s": _per_window(done, (watcher.first_at or began), 10.0),
        },
        "latency_ms": {
            "source": "occurred_at of the signed events on the log (service clocks, one machine); "
                      "client_issue_to_delivered: the driver's clock from its POST to reading delivered",
            "issued_to_approved": percentiles(span("prescription.issued", "prescription.approved")),
            "approved_to_dispensed": percentiles(span("prescription.approved", "prescription.dispensed")),
            "issued_to_delivered": percentiles(span("prescription.issued", DONE)),
            "client_issue_to_delivered": percentiles(client),
        },
        "processes": processes,
        "machine": machine,
        "log_delay_ms": {
            "what": "occurred_at (set in the producing transaction) to the driver reading it off the log: "
                    "commit + outbox + broker + fetch",
            **percentiles([(x.seen_at - x.occurred_at) * 1000
                           for p in results if p for x in watcher.events[p].values()]),
        },
        "http": {"requests": stats.requests, "retries_while_a_service_caught_up": stats.retries},
        "transactions": groups,
        # Tansu's S3 requests (infra/s3_list_cache.py): what the front answered itself, what it
        # sent on. The key keeps its first name, so that results stay comparable.
        "broker_s3_lists": _since(lists_before, lists_after),
        "profiles": profiles,
        "_samples": [[raw for raw in watcher.raw[p]] for p in list(watcher.raw)[: args.sample_streams]
                     if len(watcher.raw[p]) == 9],
    }


def _per_window(times: list[float], start: float, width: float) -> list[int]:
    counts: list[int] = []
    for t in times:
        i = max(0, int((t - start) // width))
        counts.extend([0] * (i + 1 - len(counts)))
        counts[i] += 1
    return counts


async def measure_baselines(stack: Stack, samples: list[list[bytes]], n: int, quick: bool) -> dict[str, Any]:
    ids = load_identities(stack.keys_dir)
    flat = [raw for journey in samples for raw in journey]
    sizes = [len(raw) for raw in flat] or [1500]
    out: dict[str, Any] = {}
    broker = stack.broker
    assert broker is not None
    out["kafka_raw"] = await baselines.raw_kafka(broker.bootstrap, sizes, min(9 * n, 45_000),
                                                 broker.settings.events_partitions)
    out["ed25519"] = await asyncio.to_thread(baselines.ed25519, ids, flat[:200] or [], 0.5 if quick else 1.5)
    want = 40 if quick else 120
    # Each append gets new stream and event ids, so a short sample is simply used again.
    journeys = [[read_verified(raw) for raw in journey] for journey in (samples * want)[:want]]
    if journeys:
        out["event_store"] = await store_baseline.event_stores(ids, journeys)
    out["consumer_pipeline"] = await baselines.consumer_pipeline(ids, flat[: 450 if quick else 1800])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10_000, help="prescriptions to play (default 10,000)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 500 prescriptions, short baselines")
    parser.add_argument("--rate", type=float, default=None,
                        help="start this many per second (default: as fast as it goes)")
    parser.add_argument("--concurrency", type=int, default=300, help="prescriptions in flight at most")
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--stall-s", type=float, default=60.0,
                        help="stop once the last STALL_S delivered under a fifth of the best STALL_S (0: never)")
    parser.add_argument("--profile", action="store_true", help="py-spy every service during the run")
    parser.add_argument("--no-baselines", action="store_true")
    parser.add_argument("--sample-streams", type=int, default=200, help="journeys kept for the baselines")
    parser.add_argument("--var", type=Path, default=None, help="stack dir (default: a fresh temporary one)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--broker", default="tansu-durable")
    args = parser.parse_args(argv)
    if args.quick and "--n" not in " ".join(argv or sys.argv):
        args.n = 500
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    work = args.var or Path(tempfile.mkdtemp(prefix="rxflow-bench-"))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    config = StackConfig(var_dir=work, broker_kind=args.broker, fixed_ports=False)
    began = time.monotonic()
    # Stopped from outside (timeout, kill): unwind, so the stack's processes are stopped too. An
    # orphaned broker and services kept using the CPU and skewed the next runs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    with Stack(config) as stack:
        started = time.monotonic() - began
        result = asyncio.run(measure(stack, args, work))
        samples = result.pop("_samples")
        for name in SERVICES:  # the services are measured; the baselines get the machine to themselves
            stack.stop_service(name)
        result["baselines"] = {} if args.no_baselines else asyncio.run(
            measure_baselines(stack, samples, args.n, args.quick))
    report = {
        "benchmark": "pipeline", "at": stamp,
        "config": {"n": args.n, "rate": args.rate, "concurrency": args.concurrency, "warmup": args.warmup,
                   "broker": args.broker, "db": "sqlite (WAL, synchronous=FULL)", "cores": os.cpu_count(),
                   "stack_start_s": round(started, 1), "python": sys.version.split()[0]},
        **result,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"pipeline-{stamp}.json"
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str))
    print(table(report))
    print(f"\nresults: {path}")
    complete = report["throughput"]["completed"] == args.n
    if args.var is None and not args.profile and complete:
        shutil.rmtree(work, ignore_errors=True)
    elif not complete:  # the services' and broker's logs are what tells why
        print(f"stack directory kept, with the services' and broker's logs: {work}")
    return 0 if complete else 1


if __name__ == "__main__":
    raise SystemExit(main())
