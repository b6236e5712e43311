"""`python -m infra.brokers up`: run a local broker in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from pydantic import ValidationError

from infra.brokers import Broker
from infra.procs import LaunchError
from infra.settings import BROKER_KINDS, BrokerSettings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m infra.brokers")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start a broker, print its bootstrap address, run until Ctrl-C")
    up.add_argument("--kind", choices=BROKER_KINDS, help="default: RXFLOW_BROKER_KIND or tansu-durable")
    up.add_argument("--data-dir", type=Path, help="default: RXFLOW_DATA_DIR or var/broker")
    up.add_argument("--port", type=int, help="Kafka port; default: RXFLOW_BROKER_PORT or a free one")
    up.add_argument("--bootstrap", help="host:port of an existing broker (--kind external)")
    up.add_argument("--partitions", type=int, help="partitions of rx.events (default 1)")
    return parser


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # Same clean path as Ctrl-C: the finally block below stops the children in order.
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Entry point of the broker CLI; returns the process exit code."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    # Refused connections while we poll for readiness are expected, not errors to show.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    overrides = {
        "broker_kind": args.kind, "data_dir": args.data_dir, "broker_port": args.port,
        "bootstrap": args.bootstrap, "events_partitions": args.partitions,
    }
    try:
        settings = BrokerSettings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as error:
        print(f"refusing these broker settings:\n{error}", file=sys.stderr)
        return 2
    broker = Broker(settings)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        broker.start()
        # The address alone on stdout, so scripts can capture it; everything else on stderr.
        print(broker.bootstrap, flush=True)
        if not broker.children:
            return 0  # external: nothing of ours to keep running
        print(f"{broker.kind} running, logs in {broker.data_dir}; Ctrl-C stops it", file=sys.stderr)
        while broker.running():
            time.sleep(0.5)
        dead = [c for c in broker.children if not c.alive()]
        for child in dead:
            print(f"{child.name} died:\n{child.log_tail()}", file=sys.stderr)
        return 1
    except LaunchError as error:
        print(f"broker did not start: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("stopping", file=sys.stderr)
        return 0
    finally:
        broker.stop()
