"""Peak memory and CPU time of processes, read from /proc (Linux)."""

from __future__ import annotations

import os
from dataclasses import dataclass

TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Sample:
    cpu_s: float  # utime + stime so far
    peak_rss_mb: float  # VmHWM: the high-water mark of resident memory over the process' life
    rss_mb: float  # VmRSS now


def sample(pid: int) -> Sample | None:
    """CPU seconds and memory of one process, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        with open(f"/proc/{pid}/status") as f:
            status = f.read()
    except FileNotFoundError:
        return None
    # Field 2 (comm) may hold spaces and parentheses: split after its closing one.
    fields = stat[stat.rindex(")") + 2:].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    kb = {line.split(":")[0]: int(line.split()[1]) for line in status.splitlines()
          if line.startswith(("VmHWM", "VmRSS"))}
    return Sample((utime + stime) / TICKS, kb.get("VmHWM", 0) / 1024, kb.get("VmRSS", 0) / 1024)


def sample_all(pids: dict[str, int]) -> dict[str, Sample]:
    """sample() of each named process that is still there."""
    return {name: s for name, pid in pids.items() if (s := sample(pid)) is not None}


def machine_busy_s() -> float:
    """CPU seconds all cores spent busy since boot (/proc/stat), to tell our load from others'."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / TICKS


def loadavg() -> float:
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])
