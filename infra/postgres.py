"""A throwaway real PostgreSQL for the store contract tests (initdb in a temp dir, free port)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

from infra.procs import Child, LaunchError, free_ports, wait_until

SUPERUSER = "postgres"


def postgres_bindir() -> Path:
    """Server binaries of the newest PostgreSQL installed (infra/sysdeps.sh installs one)."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(re.sub(r"\D", "", p.parent.parent.name) or 0),
    )
    if found:
        return found[-1].parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    raise FileNotFoundError("no PostgreSQL server binaries (initdb); run `make sysdeps`")


class ThrowawayPostgres:
    """initdb + postgres on 127.0.0.1:<free port>, deleted again on stop."""

    def __init__(self, port: int | None = None, stop_timeout_s: float = 10.0, start_timeout_s: float = 30.0):
        self.port = port or free_ports(1)[0]
        self.stop_timeout_s = stop_timeout_s
        self.start_timeout_s = start_timeout_s
        # postgres refuses to run as root, so as root we hand the cluster to the postgres user.
        self.os_user = SUPERUSER if os.geteuid() == 0 else None
        self.bindir = postgres_bindir()
        self.base: Path | None = None
        self.child: Child | None = None

    @property
    def url(self) -> str:
        """Async SQLAlchemy URL of the `postgres` database."""
        return self.url_for("postgres")

    def url_for(self, database: str) -> str:
        """Async SQLAlchemy URL of one database on this server."""
        return f"postgresql+asyncpg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def start(self) -> ThrowawayPostgres:
        """initdb in a fresh temp dir, start the server, wait for pg_isready."""
        # Our own dir under /tmp: pytest's tmp dirs are private to root, postgres could not enter.
        self.base = Path(tempfile.mkdtemp(prefix="rxflow-pg-"))
        data, sockets = self.base / "data", self.base / "sockets"
        sockets.mkdir()
        if self.os_user:
            for path in (self.base, sockets):
                shutil.chown(path, user=self.os_user)
        self._run("initdb", "-D", str(data), "-U", SUPERUSER, "--auth=trust",
                  "-E", "UTF8", "--no-locale", "--no-sync")
        # fsync off: the cluster is deleted after the tests, crash safety buys nothing here.
        argv = [str(self.bindir / "postgres"), "-D", str(data), "-p", str(self.port),
                "-h", "127.0.0.1", "-k", str(sockets),
                "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        # SIGINT is postgres' "fast" shutdown: it does not wait for clients to hang up.
        self.child = Child("postgres", argv, self.base / "postgres.log", self._env(),
                           user=self.os_user, cwd=self.base, stop_signal=signal.SIGINT)
        try:
            self.child.start()
            wait_until(self._ready, timeout=self.start_timeout_s, child=self.child,
                       what="pg_isready")
        except BaseException:
            self.stop()
            raise
        return self

    def create_database(self, name: str) -> str:
        """Create a fresh database and return its async URL."""
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER, name)
        return self.url_for(name)

    def stop(self) -> None:
        """Fast shutdown (SIGKILL after the timeout), then delete the cluster."""
        if self.child is not None:
            self.child.stop(self.stop_timeout_s)
            self.child = None
        if self.base is not None:
            shutil.rmtree(self.base, ignore_errors=True)
            self.base = None

    def running(self) -> bool:
        """True while the postmaster runs."""
        return self.child is not None and self.child.alive()

    def __enter__(self) -> ThrowawayPostgres:
        return self.start()

    def __exit__(self, *exc: object | TracebackType) -> None:
        self.stop()

    def _ready(self) -> bool:
        probe = [str(self.bindir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)]
        return subprocess.run(probe, env=self._env(), check=False, timeout=5).returncode == 0

    def _env(self) -> dict[str, str]:
        # No PG* variables of the developer's own: they would point the tools elsewhere.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        return {**env, "LC_ALL": "C", "HOME": str(self.base)}

    def _run(self, tool: str, *args: str) -> None:
        cmd = [str(self.bindir / tool), *args]
        done = subprocess.run(cmd, env=self._env(), cwd=self.base, user=self.os_user,
                              capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            raise LaunchError(f"{tool} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
