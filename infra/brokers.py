"""Local Kafka-protocol brokers for development and tests (DESIGN.md: Brokers).

    python -m infra.brokers up --kind tansu-durable --data-dir var/broker
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from types import TracebackType

from infra import launchers
from infra.kafka_admin import ensure_topics, run_blocking, wait_for_metadata
from infra.procs import Child, LaunchError, free_ports, wait_until
from infra.settings import LAUNCHED_KINDS, BrokerSettings

log = logging.getLogger("rxflow.brokers")


class Broker:
    """One broker of the configured kind: start, stop, kill (a crash) and restart on its data dir."""

    def __init__(self, settings: BrokerSettings):
        self.settings = settings
        self.kind = settings.broker_kind
        self.data_dir = settings.data_dir.resolve()
        launched = self.kind in LAUNCHED_KINDS
        # Ports are chosen once, so a restart comes back where clients expect it.
        self.port = settings.broker_port or (free_ports(1)[0] if launched else None)
        self.weed_ports = launchers.weed_ports() if self.kind == "tansu-durable" else {}
        self.children: list[Child] = []

    @property
    def bootstrap(self) -> str:
        """host:port that Kafka clients connect to."""
        if self.port is None:
            assert self.settings.bootstrap  # guaranteed by BrokerSettings for kind=external
            return self.settings.bootstrap
        return f"127.0.0.1:{self.port}"

    def start(self) -> Broker:
        """Launch the children, wait until Kafka metadata answers, create missing topics."""
        if self.running():
            return self
        self.data_dir.mkdir(parents=True, exist_ok=True)
        began = time.monotonic()
        try:
            for child, ready, what in self._plan():
                self.children.append(child)
                child.start()
                if ready is not None:
                    wait_until(ready, timeout=self._left(began), child=child, what=what)
            self._wait_for_kafka(began)
            run_blocking(lambda: ensure_topics(self.bootstrap, self.settings.topics()))
        except BaseException:
            self.kill()
            raise
        log.info("%s broker ready at %s in %.1fs", self.kind, self.bootstrap, time.monotonic() - began)
        return self

    def stop(self) -> None:
        """Stop the children in reverse start order: SIGTERM, then SIGKILL after the timeout."""
        for child in reversed(self.children):
            child.stop(self.settings.stop_timeout_s)
        self.children = []

    def kill(self) -> None:
        """SIGKILL every child at once, like a power cut of the broker host (data dir kept)."""
        for child in self.children:
            child.signal_kill()
        for child in self.children:
            child.kill()
        self.children = []

    def restart(self) -> Broker:
        """Stop (if still running) and start again on the same data dir and ports."""
        self.stop()
        return self.start()

    def running(self) -> bool:
        """True while every child is alive (an external broker counts as running once started)."""
        return bool(self.children) and all(c.alive() for c in self.children)

    def pids(self) -> list[int]:
        """Process ids of the launched children (each leads its own process group)."""
        return [c.pid for c in self.children if c.pid is not None]

    def logs(self) -> list[Path]:
        """Log files of the children, for a human reading a failure."""
        return sorted(self.data_dir.glob("*.log"))

    def __enter__(self) -> Broker:
        return self.start()

    def __exit__(self, *exc: object | TracebackType) -> None:
        self.stop()

    def _plan(self) -> list[tuple[Child, object, str]]:
        """(child, readiness check or None, what we wait for), in start order."""
        assert self.port is not None or self.kind == "external"
        if self.kind == "tansu-memory":
            return [(launchers.tansu_child(self.data_dir, self.port, None), None, "")]
        if self.kind == "noida":
            return [(launchers.noida_child(self.data_dir, self.port), None, "")]
        if self.kind == "tansu-durable":
            weed = launchers.weed_child(self.data_dir, self.weed_ports)
            filer = self.weed_ports["filer.port"]
            s3 = self.weed_ports["s3.port"]
            return [
                (weed, lambda: launchers.bucket_ready(filer), "S3 bucket"),
                (launchers.tansu_child(self.data_dir, self.port, s3), None, ""),
            ]
        return []  # external: nothing to launch

    def _left(self, began: float) -> float:
        return max(0.1, self.settings.start_timeout_s - (time.monotonic() - began))

    def _wait_for_kafka(self, began: float) -> None:
        alive = (lambda: self.running()) if self.children else (lambda: True)
        try:
            run_blocking(lambda: wait_for_metadata(self.bootstrap, self._left(began), alive))
        except (TimeoutError, RuntimeError) as error:
            tails = "\n".join(f"--- {c.name}:\n{c.log_tail()}" for c in self.children)
            raise LaunchError(f"{self.kind} at {self.bootstrap}: {error}\n{tails}") from error


def open_broker(settings: BrokerSettings | None = None, **overrides: object) -> Broker:
    """A Broker (not yet started) from settings, or from RXFLOW_* env plus keyword overrides."""
    return Broker(settings or BrokerSettings(**overrides))  # type: ignore[arg-type]


if __name__ == "__main__":
    from infra.broker_cli import main

    raise SystemExit(main())
