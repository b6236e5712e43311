"""Child processes of the local launchers: start, wait, stop, kill, free ports."""

from __future__ import annotations

import fcntl
import os
import random
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from pathlib import Path


class LaunchError(RuntimeError):
    """A child process did not come up (the message carries the tail of its log)."""


class Child:
    """One long-running binary whose output goes to a log file."""

    def __init__(
        self, name: str, argv: Sequence[str], log_path: Path, env: Mapping[str, str], *,
        user: str | None = None, cwd: Path | None = None,
        stop_signal: signal.Signals = signal.SIGTERM,
    ):
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = dict(env)
        self.user = user
        self.cwd = cwd
        self.stop_signal = stop_signal
        self.pass_fds: tuple[int, ...] = ()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Spawn the process, appending stdout and stderr to its log file."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            log.write(f"\n=== start {time.strftime('%Y-%m-%dT%H:%M:%S')}: {self.argv}\n".encode())
            log.flush()
            # Own session: Ctrl-C in the developer's terminal must reach us, not the brokers,
            # so they are stopped in order and not half-killed.
            self.proc = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=self.env, start_new_session=True, user=self.user, cwd=self.cwd,
                pass_fds=self.pass_fds,
            )

    @property
    def pid(self) -> int | None:
        """Process id, or None if never started."""
        return self.proc.pid if self.proc else None

    def alive(self) -> bool:
        """True while the process runs."""
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float) -> None:
        """Graceful stop signal to the leader, SIGKILL to the group after timeout seconds."""
        if self.proc is None:
            return
        if self.alive():
            # The leader only: it shuts its own helpers down in order (postgres insists).
            self.proc.send_signal(self.stop_signal)
            with suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout)
        # Also sweeps anything the leader left behind in its process group.
        self.kill()

    def signal_kill(self) -> None:
        """Send SIGKILL to the whole process group without waiting."""
        if self.proc is not None:
            self._signal(signal.SIGKILL)

    def kill(self) -> None:
        """SIGKILL the whole process group, as a crash would, and reap it."""
        if self.proc is None:
            return
        self._signal(signal.SIGKILL)
        self.proc.wait(5)

    def _signal(self, sig: signal.Signals) -> None:
        with suppress(ProcessLookupError):  # already gone: nothing to signal
            os.killpg(self.proc.pid, sig)  # type: ignore[union-attr]

    def log_tail(self, lines: int = 25) -> str:
        """Last lines of the log, to explain a failure."""
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


class DirLock:
    """An exclusive flock on DIR/.lock; children given its fd keep it held while they live."""

    def __init__(self, directory: Path):
        self.path = directory / ".lock"
        self.fd: int | None = None

    def acquire(self) -> int:
        """Take the lock (idempotent) or raise LaunchError if another launcher holds it."""
        if self.fd is not None:
            return self.fd
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = self.path.read_text().strip() or "?"
            raise LaunchError(
                f"{self.path.parent} is in use by another broker (launched by pid {holder})"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd
        return fd

    def release(self) -> None:
        """Drop our hold (children that inherited it must be gone for the lock to free)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def wait_until(ready: Callable[[], bool], *, timeout: float, child: Child, what: str) -> None:
    """Poll ready() until true; fail fast if the child dies, fail after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        if not child.alive():
            code = child.proc.returncode if child.proc else None
            raise LaunchError(f"{child.name} exited ({code}) before {what}:\n{child.log_tail()}")
        if ready():
            return
        if time.monotonic() > deadline:
            raise LaunchError(f"{child.name}: no {what} after {timeout:.0f}s:\n{child.log_tail()}")
        time.sleep(0.1)


# The ports our children listen on are chosen below the kernel's ephemeral range. A port taken
# from that range (bound to 0, or picked at random in it) can be handed to some process's
# outgoing connection between our check and the child's own bind: weed's admin server once
# failed to start with "address already in use" on such a port. Below the range only explicit
# listeners take ports, and the random choice keeps two of ours apart.
LISTEN_PORTS_FROM = 10000
_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
# Every port handed out by this process, never handed out again: a child binds its port only
# once it is up, seconds later (a service after its consumers have joined), and until then a
# later choice found it free. A stack chose its services' ports, then its broker's, and once gave
# the prescriber's port to the broker: the prescriber then failed with "address already in use".
_HANDED_OUT: set[int] = set()


def ephemeral_ports_from() -> int:
    """The first port the kernel hands to outgoing connections (Linux's default: 32768)."""
    try:
        return int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_ports(count: int) -> list[int]:
    """count distinct TCP ports free on 127.0.0.1 right now, below the ephemeral range."""
    return [low for low, _ in _free_ports(count, 0)]


def free_port_pair(offset: int) -> tuple[int, int]:
    """Two ports p and p + offset, both free on 127.0.0.1 right now, below the ephemeral range."""
    return _free_ports(1, offset)[0]


def _free_ports(count: int, offset: int) -> list[tuple[int, int]]:
    """count pairs (p, p + offset) of free ports (offset 0: single ports), none handed out before."""
    top = ephemeral_ports_from() - offset
    if top - LISTEN_PORTS_FROM < 100 * count:  # a machine whose ephemeral range starts low
        top = 65535 - offset
    chosen: list[tuple[int, int]] = []
    for _ in range(200 * count):
        if len(chosen) == count:
            break
        port = random.randrange(LISTEN_PORTS_FROM, top)
        pair = {port, port + offset}
        if not pair & _HANDED_OUT and all(_bindable(p) for p in pair):
            chosen.append((port, port + offset))
            _HANDED_OUT.update(pair)
    if len(chosen) < count:
        raise LaunchError(f"no {count} free port(s) {offset} apart on 127.0.0.1")
    return chosen


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """True if something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False
