"""`python -m services.review.rerun --db <review db url> [--pack 2026.12.1] [--formulary V] [--json]`

For regulators and pharmacists: reads the raw signed events kept in the review service's own
store, (a) checks that re-running every review with the pack and formulary versions it recorded
gives exactly the recorded findings, and (b) dry-runs --pack (default: the current pack) to list
prescriptions whose verdict or findings would change. Exit 0 when every recorded review is
reproduced, 1 when one is not, 2 when the store, pack or formulary cannot be read.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from services.kit.db import Database
from services.review import replay, rules
from services.review.formulary.versions import FormularyUnavailable, load_version


async def build_report(db_url: str, pack: str, formulary: str | None) -> dict[str, Any]:
    """The re-run report over one review store."""
    path = db_url.split(":///", 1)[1] if db_url.startswith("sqlite") and ":///" in db_url else None
    if path and path != ":memory:" and not Path(path).is_file():  # opening it would create an empty one
        raise FileNotFoundError(f"no review store at {path}")
    db = Database(db_url)
    try:
        states = await replay.load_states(db)
    finally:
        await db.close()
    return replay.report(states, pack=pack, formularies=load_version, formulary=formulary)


def render(r: dict[str, Any]) -> str:
    """The report for a terminal."""
    lines = [f"recorded reviews: {r['reviewed']} re-run, {r['reproduced']} reproduced exactly, "
             f"{len(r['mismatches'])} not"]
    lines += [f"  MISMATCH {m['prescription_id']}  pack {m['rule_pack_version']}  "
              f"formulary {m['formulary_version']}: {m['problem']}" for m in r["mismatches"]]
    lines.append(f"dry run of pack {r['pack']} (formulary: {r['formulary']}): {r['changed']} would change")
    for c in r["changes"]:
        verdict = f"{c['from']} -> {c['to']}" if c["verdict_changed"] else f"{c['from']} (same verdict)"
        diff = " ".join([*(f"+{i}" for i in c["added"]), *(f"-{i}" for i in c["removed"])]) or "messages changed"
        lines.append(f"  {c['prescription_id']}  recorded {c['recorded_pack']}  {verdict}  {diff}")
    lines += [f"  (not run: {u['prescription_id']}: {u['problem']})" for u in r["dry_run_unavailable"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m services.review.rerun", description=__doc__.split("\n\n")[1])
    parser.add_argument("--db", required=True, help="the review service's database URL (REVIEW_DATABASE_URL)")
    parser.add_argument("--pack", default=rules.CURRENT, choices=list(rules.PACKS), help="pack to dry-run")
    parser.add_argument("--formulary", default=None, help="dry-run on this formulary version, not the recorded one")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    try:
        report = asyncio.run(build_report(args.db, args.pack, args.formulary))
    except (SQLAlchemyError, FormularyUnavailable, FileNotFoundError) as exc:
        print(f"rerun: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report, ensure_ascii=False, indent=2) if args.json else render(report))
    return 1 if report["mismatches"] else 0


if __name__ == "__main__":
    sys.exit(main())
