"""`rxflow audit <command>` (or `python -m services.audit.cli`): the regulator's tools.

    rxflow audit verify --file ledger.jsonl --root-pub var/keys/root.pub
    rxflow audit verify --bootstrap 127.0.0.1:9092 --root-pub var/keys/root.pub
    rxflow audit replay --as-of 2026-11-21T12:00:00+08:00 --file ledger.jsonl --out states.jsonl
    rxflow audit report --file ledger.jsonl --json report.json --html report.html
    rxflow audit export --bootstrap 127.0.0.1:9092 --out ledger.jsonl   (or --url http://127.0.0.1:8105)

Nothing but the root public key is trusted: every other key is learned from root-signed key
events on the log. Exit status: 0 when the log verifies, 1 when it does not, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from services.audit import commands


def _sources(cmd: argparse.ArgumentParser, export: bool = False) -> None:
    where = cmd.add_mutually_exclusive_group(required=True)
    where.add_argument("--bootstrap", help="read the Kafka topics from the start (host:port)")
    if export:
        where.add_argument("--url", help="download the audit service's ledger (e.g. http://127.0.0.1:8105)")
    else:
        where.add_argument("--file", type=Path, help="an export written by `rxflow audit export`")
    cmd.add_argument("--root-pub", type=Path, default=Path("var/keys/root.pub"), help="the platform root public key")
    cmd.add_argument("--root-key-id", default="root-1")
    cmd.add_argument("--auditor", default="svc-audit", help="the actor whose checkpoints are trusted")
    cmd.add_argument("--max-clock-skew", type=float, default=600.0,
                     help="seconds an event may be backdated against the broker's time (0: do not check)")
    cmd.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes verifying signatures")
    cmd.add_argument("--allow-rejected", action="store_true",
                     help="refused messages kept with their reason are not a failure")
    cmd.add_argument("--events-topic", default="rx.events")
    cmd.add_argument("--keys-topic", default="rx.keys")
    cmd.add_argument("--checkpoints-topic", default="rx.checkpoints")


def parser() -> argparse.ArgumentParser:
    """The command line of `rxflow audit`."""
    top = argparse.ArgumentParser(prog="rxflow audit", description=__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = top.add_subparsers(dest="command", required=True)
    verify = sub.add_parser("verify", help="check every signature, the chain, the checkpoints and the sequences")
    _sources(verify)
    verify.add_argument("--json", action="store_true", help="print the summary as JSON")
    replay = sub.add_parser("replay", help="the state of every prescription at a moment")
    _sources(replay)
    replay.add_argument("--as-of", required=True, help="ISO 8601 time; without an offset it is UTC")
    replay.add_argument("--out", type=Path, help="JSON lines (default: stdout)")
    report = sub.add_parser("report", help="violations and figures, as JSON and as an HTML page (中文)")
    _sources(report)
    report.add_argument("--as-of", help="fold only what occurred by then (default: everything)")
    report.add_argument("--json", type=Path, default=Path("audit-report.json"))
    report.add_argument("--html", type=Path, default=Path("audit-report.html"))
    export = sub.add_parser("export", help="write the ledger as a file anyone can verify (docs/audit-format.md)")
    _sources(export, export=True)
    export.add_argument("--out", type=Path, required=True)
    return top


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit status."""
    args = parser().parse_args(argv)
    try:
        return commands.COMMANDS[args.command](args)
    except (OSError, ValueError, TimeoutError) as exc:
        print(f"rxflow audit {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
