"""`make bench-replay`: how fast a regulator verifies and replays the log, against raw Ed25519.

    python -m benchmarks.replay [--sizes 100000,1000000] [--quick] [--workers N]

Logs are synthetic journeys (services/audit/synthlog.py), generated once on every core and
cached under var/bench/. The raw rate is Ed25519 verification alone, on the same messages, on
every core, measured in the same run before and after the timed runs.
"""

from __future__ import annotations

import argparse
import json
import mmap
import multiprocessing
import os
import platform
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from events.fastverify import canonical_object, without_signature
from events.identities import generate_identities, load_identities
from events.signing import b64decode, public_key_text, signature_valid
from services.audit.exportfile import decode_message, load_record
from services.audit.offline import cpu_time, verify_data
from services.audit.owners import Options
from services.audit.synth import T0
from services.audit.synthlog import write_export

RESULTS = Path(__file__).parent / "results"
_SAMPLE: list[tuple[bytes, bytes, bytes]] = []


def keys(cache: Path) -> Path:
    """The benchmark community's identities, made once."""
    path = cache / "keys"
    if not (path / "actors.json").exists():
        generate_identities(path, valid_from=T0 - timedelta(days=1))
    return path


def log_file(cache: Path, size: int, workers: int) -> Path:
    """A cached export of `size` entries; generated on every core when missing."""
    path = cache / f"log-{size}.jsonl"
    if not path.exists():
        began = time.perf_counter()
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as out:
            write_export(keys(cache), size, out, workers=workers, trust=True)
        tmp.rename(path)
        print(f"generated {path} in {time.perf_counter() - began:.0f}s", file=sys.stderr)
    return path


def sample(data: Any, count: int, keys_dir: Path) -> list[tuple[bytes, bytes, bytes]]:
    """(public key, signature, signed bytes) of the first `count` events of the log: the raw
    rate is measured on the same messages (Ed25519 hashes the whole message)."""
    ids = load_identities(keys_dir)
    by_key = {s.key_id: s.public_key.public_bytes_raw() for s in ids.signers.values()}
    out = []
    for line in data[: 4 * 1024 * count].split(b"\n"):
        record = load_record(line)
        raw = decode_message(record.get("message")) if record and record.get("kind") == "entry" else None
        obj = canonical_object(raw) if raw else None
        if obj and obj["key_id"] in by_key:
            out.append((by_key[obj["key_id"]], b64decode(obj["signature"]), without_signature(raw, obj["signature"])))
        if len(out) == count:
            break
    return out


def _raw_worker(seconds: float) -> int:
    done, deadline = 0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        for key, sig, msg in _SAMPLE:
            signature_valid(key, sig, msg)  # the primitive the regulator's verifier uses
        done += len(_SAMPLE)
    return done


def raw_rate(workers: int, seconds: float = 4.0) -> tuple[float, float]:
    """Ed25519 verifications per second with every core busy (forked workers share the sample):
    by the wall clock, and per CPU second times the cores (what other load on the machine skews less)."""
    began, cpu = time.perf_counter(), cpu_time()
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        done = sum(pool.map(_raw_worker, [seconds] * workers))
    return done / (time.perf_counter() - began), done * workers / (cpu_time() - cpu)


def run(path: Path, options: Options, workers: int) -> dict[str, Any]:
    """Verify, then replay, one log; events per second of each."""
    global _SAMPLE
    out: dict[str, Any] = {"size": 0, "file_bytes": path.stat().st_size}
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        _SAMPLE = sample(data, 2000, path.parent / "keys")
        raws = [raw_rate(workers)]
        for mode, opts in (("verify", options), ("replay", replace(options, fold="replay"))):
            outcome = verify_data(data, opts, workers)
            raws.append(raw_rate(workers))  # right after each run: the load on a shared machine drifts
            if not outcome.ok:
                raise SystemExit(f"{path}: {outcome.first_problem.describe()}")  # type: ignore[union-attr]
            out["size"] = outcome.entries
            out[mode] = {"seconds": round(outcome.seconds, 2), "events_per_s": round(outcome.entries / outcome.seconds),
                         "cpu_events_per_s": round(outcome.entries * workers / outcome.cpu_seconds),
                         "fast_path_share": round(outcome.fast_hits / max(1, outcome.accepted), 4)}
            if mode == "replay":
                out[mode]["prescriptions"] = len(outcome.states)
            wall, cpu = [(a + b) / 2 for a, b in zip(raws[-2], raws[-1], strict=True)]
            out[mode]["ratio_to_raw"] = round(out[mode]["events_per_s"] / wall, 3)
            out[mode]["cpu_ratio_to_raw"] = round(out[mode]["cpu_events_per_s"] / cpu, 3)
    out["raw_ed25519_per_s"] = round(sum(w for w, _ in raws) / len(raws))
    out["raw_ed25519_cpu_per_s"] = round(sum(c for _, c in raws) / len(raws))
    out["raw_measurements"] = [[round(w), round(c)] for w, c in raws]
    return out


def table(rows: list[dict[str, Any]]) -> str:
    """Wall-clock rates and ratios; in brackets the same per CPU second (less skewed by other load)."""
    head = (f"{'events':>9} {'raw Ed25519/s':>20} {'verify/s':>18} {'ratio':>12} {'replay/s':>18} {'ratio':>12}")
    lines = [head, "-" * len(head)]
    for r in rows:
        v, p = r["verify"], r["replay"]
        lines.append(f"{r['size']:>9} {r['raw_ed25519_per_s']:>9} [{r['raw_ed25519_cpu_per_s']:>8}] "
                     f"{v['events_per_s']:>8} [{v['cpu_events_per_s']:>7}] {v['ratio_to_raw']:>5.2f} "
                     f"[{v['cpu_ratio_to_raw']:>4.2f}] {p['events_per_s']:>8} [{p['cpu_events_per_s']:>7}] "
                     f"{p['ratio_to_raw']:>5.2f} [{p['cpu_ratio_to_raw']:>4.2f}]")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Generate (once), verify and replay each size; print a table, write JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated event counts")
    parser.add_argument("--quick", action="store_true", help="one small log (20,000 events), for CI")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--cache", type=Path, default=Path("var/bench"), help="where generated logs are kept")
    args = parser.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)
    sizes = [20_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    ids = load_identities(keys(args.cache))
    options = Options(ids.root.key_id, public_key_text(ids.root.public_key))
    rows = [run(log_file(args.cache, size, args.workers), options, args.workers) for size in sizes]
    print(table(rows))
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    meta = {"when": stamp, "cpus": os.cpu_count(), "workers": args.workers, "python": platform.python_version(),
            "machine": platform.machine(), "load_average": os.getloadavg()}
    target = RESULTS / f"replay-{stamp}.json"
    target.write_text(json.dumps({**meta, "runs": rows}, indent=2))
    print(f"results: {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
