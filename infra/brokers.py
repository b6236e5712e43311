"""Local Kafka-protocol brokers for development and tests (DESIGN.md: Brokers).

    python -m infra.brokers up --kind tansu-durable --data-dir var/broker
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from infra import launchers
from infra.kafka_admin import ensure_topics, partition_counts, run_blocking, wait_for_metadata
from infra.procs import Child, DirLock, LaunchError, free_ports, port_open, wait_until
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
        # Tansu talks S3 to infra.s3_list_cache, which talks to weed (see that module).
        self.s3_cache_port = free_ports(1)[0] if self.kind == "tansu-durable" else None
        self.children: list[Child] = []
        self.lock = DirLock(self.data_dir)

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
        self.kill()  # what is left of a crashed run must not be counted as part of this one
        lock_fd = self._claim() if self.kind in LAUNCHED_KINDS else None
        began = time.monotonic()
        try:
            for child, ready, what in self._plan():
                self.children.append(child)
                child.pass_fds = (lock_fd,) if lock_fd is not None else ()
                child.start()
                if ready is not None:
                    wait_until(ready, timeout=self._left(began), child=child, what=what)
            self._wait_for_kafka(began)
            if self.children and not self.running():
                raise LaunchError(f"{self.kind} died while starting:\n{self._tails()}")
            run_blocking(self._ensure_topics)
        except BaseException:
            self.kill()
            raise
        log.info("%s broker ready at %s in %.1fs", self.kind, self.bootstrap, time.monotonic() - began)
        return self

    async def _ensure_topics(self) -> None:
        wanted = self.settings.topics()
        if "events_partitions" not in self.settings.model_fields_set:
            # A log made when the default was another count keeps it: repartitioning would move
            # prescriptions to other partitions and break their order. Setting the count
            # explicitly still refuses a mismatch.
            have = (await partition_counts(self.bootstrap)).get("rx.events")
            if have is not None and have != wanted["rx.events"]:
                log.warning("rx.events keeps its %d partitions (the default is now %d)", have, wanted["rx.events"])
                wanted["rx.events"] = have
        await ensure_topics(self.bootstrap, wanted)

    def stop(self) -> None:
        """Stop the children in reverse start order: SIGTERM, then SIGKILL after the timeout."""
        for child in reversed(self.children):
            child.stop(self.settings.stop_timeout_s)
        self.children = []
        self.lock.release()

    def kill(self) -> None:
        """SIGKILL every child at once, like a power cut of the broker host (data dir kept)."""
        for child in self.children:
            child.signal_kill()
        for child in self.children:
            child.kill()
        self.children = []
        self.lock.release()

    def restart(self) -> Broker:
        """Stop (if still running) and start again on the same data dir and ports."""
        self.stop()
        return self.start()

    def running(self) -> bool:
        """True while every launched child is alive (never for kind external: nothing launched)."""
        return bool(self.children) and all(c.alive() for c in self.children)

    def pids(self) -> list[int]:
        """Process ids of the launched children (each leads its own process group)."""
        return [c.pid for c in self.children if c.pid is not None]

    def logs(self) -> list[Path]:
        """Log files of the children, for a human reading a failure."""
        return sorted(self.data_dir.glob("*.log"))

    def __enter__(self) -> Broker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _claim(self) -> int:
        """Lock the data dir and check our ports are free, before anything is launched."""
        # Two brokers on one data dir would corrupt each other's files. The children inherit
        # the lock, so the dir stays locked while they run even if this launcher dies.
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fd = self.lock.acquire()
        # A broker already listening on our port would answer the readiness probe while ours
        # dies on bind, and we would hand out someone else's broker.
        taken = [p for p in [self.port, self.s3_cache_port, *self.weed_ports.values()] if p and port_open(p)]
        if taken:
            self.lock.release()
            raise LaunchError(f"{self.kind}: port(s) {taken} already in use on 127.0.0.1")
        return fd

    def _plan(self) -> list[tuple[Child, Callable[[], bool] | None, str]]:
        """(child, readiness check or None, what we wait for), in start order."""
        assert self.port is not None or self.kind == "external"
        if self.kind == "tansu-memory":
            return [(launchers.tansu_child(self.data_dir, self.port, None), None, "")]
        if self.kind == "noida":
            return [(launchers.noida_child(self.data_dir, self.port), None, "")]
        if self.kind == "tansu-durable":
            weed = launchers.weed_child(self.data_dir, self.weed_ports)
            filer = self.weed_ports["filer.port"]
            s3, front = self.weed_ports["s3.port"], self.s3_cache_port
            assert front is not None
            return [
                (weed, lambda: launchers.bucket_ready(filer), "S3 bucket"),
                (launchers.s3_cache_child(self.data_dir, front, s3), lambda: port_open(front), "S3 list cache"),
                (launchers.tansu_child(self.data_dir, self.port, front), None, ""),
            ]
        return []  # external: nothing to launch

    def _left(self, began: float) -> float:
        return max(0.1, self.settings.start_timeout_s - (time.monotonic() - began))

    def _wait_for_kafka(self, began: float) -> None:
        alive = (lambda: self.running()) if self.children else (lambda: True)
        try:
            run_blocking(lambda: wait_for_metadata(self.bootstrap, self._left(began), alive))
        except (TimeoutError, RuntimeError) as error:
            raise LaunchError(f"{self.kind} at {self.bootstrap}: {error}\n{self._tails()}") from error

    def _tails(self) -> str:
        return "\n".join(f"--- {c.name}:\n{c.log_tail()}" for c in self.children)


def open_broker(settings: BrokerSettings | None = None, **overrides: object) -> Broker:
    """A Broker (not yet started) from settings, or from RXFLOW_* env plus keyword overrides."""
    return Broker(settings or BrokerSettings(**overrides))  # type: ignore[arg-type]


if __name__ == "__main__":
    from infra.broker_cli import main

    raise SystemExit(main())
