"""py-spy on every service process of a pipeline run (`make bench ARGS=--profile`)."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.report import top_functions


class Profiler:
    """py-spy sampling each service process for the measured run (collapsed stacks)."""

    def __init__(self, pids: dict[str, int], out_dir: Path, rate: int = 50) -> None:
        self.pids, self.out_dir, self.rate = pids, out_dir, rate
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self) -> None:
        exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for name, pid in self.pids.items():
            self.procs[name] = subprocess.Popen(
                [exe, "record", "--pid", str(pid), "--rate", str(self.rate), "--nonblocking",
                 "--format", "raw", "--output", str(self.out_dir / f"{name}.txt")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def stop(self) -> dict[str, Any]:
        for proc in self.procs.values():
            proc.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        found = {}
        for name, proc in self.procs.items():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
            path = self.out_dir / f"{name}.txt"
            if path.exists():
                found[name] = {"file": str(path), **top_functions(path.read_text())}
        return found
