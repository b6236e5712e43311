"""The whole platform on one machine: identities, broker, databases and every service in its own process."""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import httpx

from events.identities import ACTORS_FILE, generate_identities, load_identities
from infra.brokers import Broker, open_broker
from infra.kafka_admin import run_blocking
from infra.keys_topic import publish_key_events
from infra.postgres import ThrowawayPostgres
from infra.procs import Child, LaunchError, free_ports

log = logging.getLogger("rxflow.stack")

SERVICE_PORTS = {"prescriber": 8101, "review": 8102, "pharmacy": 8103, "delivery": 8104, "audit": 8105}


@dataclass
class StackConfig:
    var_dir: Path = Path("var")
    broker_kind: str = "tansu-durable"
    db: Literal["sqlite", "postgres"] = "sqlite"
    services: tuple[str, ...] = tuple(SERVICE_PORTS)
    fixed_ports: bool = True  # the documented ports for `make run`; free ones for tests
    service_env: dict[str, dict[str, str]] = field(default_factory=dict)  # per-service extra settings
    start_timeout_s: float = 60.0


class Stack:
    """Start and stop everything; each service is a separate OS process talking only through Kafka."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.var = config.var_dir.resolve()
        self.keys_dir = self.var / "keys"
        self.broker: Broker | None = None
        self.postgres: ThrowawayPostgres | None = None
        self.children: dict[str, Child] = {}
        self.database_urls: dict[str, str] = {}  # kept across restarts of a service
        ports = list(SERVICE_PORTS.values()) if config.fixed_ports else free_ports(len(SERVICE_PORTS))
        self.ports = dict(zip(SERVICE_PORTS, ports, strict=True))

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def start(self) -> Stack:
        """Identities, broker (+ key events on rx.keys), databases, then the services."""
        try:
            if not (self.keys_dir / ACTORS_FILE).exists():
                generate_identities(self.keys_dir)
            self.broker = open_broker(broker_kind=self.config.broker_kind, data_dir=self.var / "broker").start()
            keys = load_identities(self.keys_dir).key_events
            sent = run_blocking(lambda: publish_key_events(self.broker.bootstrap, keys))
            log.info("published %d key events to rx.keys", sent)
            if self.config.db == "postgres":
                self.postgres = ThrowawayPostgres().start()
            for name in self.config.services:
                self.start_service(name)
            for name in self.config.services:
                self.wait_healthy(name)
        except BaseException:
            self.stop()
            raise
        return self

    def _database_url(self, name: str) -> str:
        if self.postgres is not None:
            return self.postgres.create_database(f"rxflow_{name}")
        return f"sqlite+aiosqlite:///{self.var / 'db' / f'{name}.db'}"

    def start_service(self, name: str, extra_env: dict[str, str] | None = None) -> Child:
        """Launch one service process (again, after a stop) with its settings in the environment."""
        prefix = name.upper()
        env = {**os.environ, **{f"{prefix}_{k}": v for k, v in {
            "DATABASE_URL": self.database_urls.get(name)
            or self.database_urls.setdefault(name, self._database_url(name)),
            "BOOTSTRAP": self.broker.bootstrap if self.broker else "",
            "KEYS_DIR": str(self.keys_dir),
            "PORT": str(self.ports[name]),
        }.items()}, **self.config.service_env.get(name, {}), **(extra_env or {})}
        child = Child(name, [sys.executable, "-m", f"services.{name}"], self.var / "logs" / f"{name}.log", env)
        child.start()
        self.children[name] = child
        return child

    def wait_healthy(self, name: str) -> None:
        """Wait until the service answers /health (its broker connection and tables are ready)."""
        child, deadline = self.children[name], time.monotonic() + self.config.start_timeout_s
        while time.monotonic() < deadline:
            if not child.alive():
                raise LaunchError(f"{name} exited while starting:\n{child.log_tail(40)}")
            try:
                if httpx.get(f"{self.url(name)}/health", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise LaunchError(f"{name} not healthy after {self.config.start_timeout_s:.0f}s:\n{child.log_tail(40)}")

    def stop_service(self, name: str, timeout_s: float = 10.0) -> None:
        child = self.children.pop(name, None)
        if child is not None:
            child.stop(timeout_s)

    def stop(self) -> None:
        """Services first (they flush and commit), then the databases and the broker."""
        for name in list(self.children):
            self.stop_service(name)
        if self.postgres is not None:
            self.postgres.stop()
            self.postgres = None
        if self.broker is not None:
            self.broker.stop()
            self.broker = None

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
