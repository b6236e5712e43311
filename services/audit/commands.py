"""The four regulator commands behind `rxflow audit`: verify, replay, report, export."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from events.schemas import format_utc
from services.audit.offline import Outcome, verify_data
from services.audit.report_html import render
from services.audit.sources import Source, download, open_source, options, progress_bar


def _run(args: argparse.Namespace, **extra: Any) -> tuple[Outcome, Source]:
    opts = options(args, **extra)
    source = open_source(args, opts)
    bar = progress_bar(args.command)
    outcome = verify_data(source.data, opts, args.workers, progress=bar)
    bar(1, 1)
    return outcome, source


def summary(outcome: Outcome, source: Source) -> dict[str, Any]:
    """What verify prints, and what the report's first section shows."""
    last = outcome.checkpoints[-1] if outcome.checkpoints else None
    first = outcome.problems.sorted()
    return {
        "ok": outcome.ok, "source": source.label, "lines": outcome.lines, "entries": outcome.entries,
        "accepted": outcome.accepted, "rejected": dict(outcome.rejected.most_common()),
        "checkpoints": len(outcome.checkpoints), "unsealed_tail": source.unsealed,
        "last_checkpoint": {"tree_size": last.tree_size, "root_hash": last.root_hash,
                            "timestamp": format_utc(last.timestamp)} if last else None,
        "producers": outcome.producers, "open_gaps": outcome.open_gaps, "voids": outcome.voids,
        "problems": {"total": len(outcome.problems), "by_kind": dict(outcome.problems.counts),
                     "first": [p.describe() for p in first]},
        "seconds": round(outcome.seconds, 2),
        "events_per_s": round(outcome.entries / outcome.seconds) if outcome.seconds else None,
    }


def verify(args: argparse.Namespace) -> int:
    """Exit 0 when every check holds; else name the first bad entry and why."""
    outcome, source = _run(args)
    facts = summary(outcome, source)
    if args.json:
        print(json.dumps(facts, ensure_ascii=False, indent=2))
        return 0 if outcome.ok else 1
    rejected = ", ".join(f"{k} {n}" for k, n in facts["rejected"].items()) or "none"
    print(f"source        {facts['source']}\nentries       {facts['entries']} ({facts['accepted']} accepted; "
          f"rejected: {rejected})\ncheckpoints   {facts['checkpoints']}" +
          (f", last at {facts['last_checkpoint']['tree_size']} entries, root {facts['last_checkpoint']['root_hash']}"
           if facts["last_checkpoint"] else ""))
    print("producers     " + ", ".join(f"{p} 1..{n}" for p, n in sorted(facts["producers"].items())))
    if source.unsealed:
        print(f"unsealed      the newest {source.unsealed} entries are not yet covered by a checkpoint")
    print(f"time          {facts['seconds']} s ({facts['events_per_s']} events/s, {args.workers} workers)")
    if outcome.ok:
        print("OK: every signature, key, authority, hash, checkpoint and producer sequence checks out")
        return 0
    kinds = ", ".join(f"{k} {n}" for k, n in facts["problems"]["by_kind"].items())
    print(f"FAILED: {facts['problems']['total']} problems ({kinds})\nfirst bad entry: {facts['problems']['first'][0]}")
    for line in facts["problems"]["first"][1:10]:
        print(f"  then: {line}")
    return 1


def _as_of(text: str | None) -> datetime | None:
    if not text:
        return None
    when = datetime.fromisoformat(text)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def replay(args: argparse.Namespace) -> int:
    """Every prescription as it stood at --as-of, folded from the verified events in log order."""
    as_of = _as_of(args.as_of)
    outcome, _source = _run(args, fold="replay", as_of=as_of)
    states = sorted(outcome.states, key=lambda s: (s["issued_at"] or "", s["prescription_id"]))
    out = args.out.open("w", encoding="utf-8") if args.out else sys.stdout
    try:
        for state in states:
            out.write(json.dumps(state, ensure_ascii=False) + "\n")
    finally:
        if args.out:
            out.close()
    counts: dict[str, int] = {}
    for state in states:
        counts[state["status"]] = counts.get(state["status"], 0) + 1
    print(f"{len(states)} prescriptions as of {format_utc(as_of)}: {counts}", file=sys.stderr)  # type: ignore[arg-type]
    return _warn(outcome)


def report(args: argparse.Namespace) -> int:
    """Violations and figures, as JSON and as one self-contained HTML page in Chinese."""
    as_of = _as_of(args.as_of)
    outcome, source = _run(args, fold="report", as_of=as_of)
    assert outcome.report is not None
    document = {"generated_at": format_utc(datetime.now(UTC)), "source": source.label,
                "as_of": format_utc(as_of) if as_of else None, "verification": summary(outcome, source),
                **outcome.report.to_dict()}
    Path(args.json).write_text(json.dumps(document, ensure_ascii=False, indent=2), encoding="utf-8")
    Path(args.html).write_text(render(document), encoding="utf-8")
    print(f"wrote {args.json} and {args.html}", file=sys.stderr)
    return _warn(outcome)


def export(args: argparse.Namespace) -> int:
    """Write the ledger as a file; from the audit service, or rebuilt from Kafka by the regulator."""
    if args.url:
        size = download(args.url, args.out)
        print(f"wrote {args.out} ({size} bytes) from {args.url}", file=sys.stderr)
        return 0
    source = open_source(args, options(args))
    args.out.write_bytes(source.data)
    tail = f"; the newest {source.unsealed} entries wait for a checkpoint" if source.unsealed else ""
    print(f"wrote {args.out} ({len(source.data)} bytes) from {source.label}{tail}", file=sys.stderr)
    return 0


def _warn(outcome: Outcome) -> int:
    if outcome.ok:
        return 0
    print(f"WARNING: the log does not verify; first bad entry: {outcome.first_problem.describe()}",  # type: ignore[union-attr]
          file=sys.stderr)
    return 1


COMMANDS = {"verify": verify, "replay": replay, "report": report, "export": export}
