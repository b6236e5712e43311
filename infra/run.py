"""`make run`: start the broker, the databases and every service, play the demo, keep running.

    python -m infra.run [--exit-after-demo] [--prescriptions 60] [--db sqlite|postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import time
from pathlib import Path

from events.identities import load_identities
from infra.demo import run_demo, table
from infra.settings import BROKER_KINDS
from infra.stack import Stack, StackConfig

PAGES = {"prescriber": "乡村医生开方", "review": "药师审方", "pharmacy": "药房取药", "delivery": "配送"}


def _print_urls(stack: Stack) -> None:
    print("\nrxflow is running:")
    print(f"  broker ({stack.config.broker_kind}): {stack.broker.bootstrap if stack.broker else '-'}")
    for name in stack.config.services:
        url = stack.url(name)
        print(f"  {name:<11} {url}/  ({PAGES.get(name, '')})   API docs: {url}/docs")
    print(f"  tokens for the pages and the API: {stack.keys_dir / 'private' / 'tokens.json'}")
    print(f"  logs: {stack.var / 'logs'}\n")


def _time_travel(stack: Stack):  # type: ignore[no-untyped-def]
    async def travel(offset_s: float) -> None:
        def restart() -> None:
            stack.stop_service("pharmacy")
            stack.start_service("pharmacy", {"PHARMACY_CLOCK_OFFSET_S": str(offset_s)})
            stack.wait_healthy("pharmacy")
        await asyncio.to_thread(restart)
    return travel


def main(argv: list[str] | None = None) -> int:
    """Run the platform; exit code 1 if the demo's final states are not what they should be."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--exit-after-demo", action="store_true", help="stop everything after the demo")
    parser.add_argument("--no-demo", action="store_true", help="only start the platform")
    parser.add_argument("--prescriptions", type=int, default=60, help="how many the demo plays (>= 50)")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--broker", choices=BROKER_KINDS, default="tansu-durable")
    parser.add_argument("--var", type=Path, default=Path("var"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for chatty in ("httpx", "aiokafka"):  # one line per request would bury the demo's table
        logging.getLogger(chatty).setLevel(logging.WARNING)
    stack = Stack(StackConfig(var_dir=args.var, broker_kind=args.broker, db=args.db))
    began = time.monotonic()
    stack.start()
    ok = True
    try:
        print(f"started in {time.monotonic() - began:.1f}s")
        _print_urls(stack)
        if not args.no_demo:
            tokens = load_identities(stack.keys_dir).secrets.tokens  # type: ignore[union-attr]
            urls = {name: stack.url(name) for name in stack.config.services}
            began = time.monotonic()
            rows = asyncio.run(run_demo(urls, tokens, args.prescriptions, _time_travel(stack)))
            print(f"\ndemo: {len(rows)} prescriptions in {time.monotonic() - began:.1f}s\n")
            print(table(rows))
            ok = all(expected == actual for _, _, expected, actual in rows)
        if not args.exit_after_demo:
            _print_urls(stack)
            print("Ctrl-C stops everything.")
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
