"""Where the regulator's log comes from: an export file (mapped, not read into memory) or Kafka."""

from __future__ import annotations

import argparse
import asyncio
import mmap
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from services.audit.kafka_source import rebuild, snapshot
from services.audit.owners import Options


@dataclass
class Source:
    data: Any  # bytes or mmap
    label: str
    unsealed: int = 0  # entries at the end no checkpoint covers yet (a live topic)


def options(args: argparse.Namespace, **extra: Any) -> Options:
    """Verification options from the command line."""
    root = Path(args.root_pub).read_text().strip()
    skew = args.max_clock_skew or None
    return Options(args.root_key_id, root, auditor=args.auditor, max_clock_skew_s=skew,
                   sealed=args.bootstrap is None, allow_rejected=args.allow_rejected, **extra)


def open_source(args: argparse.Namespace, opts: Options) -> Source:
    """Map the file, or read every partition from Kafka and rebuild the ledger the service keeps."""
    if getattr(args, "file", None):
        with open(args.file, "rb") as fh:
            if not fh.seek(0, 2):
                return Source(b"", f"file:{args.file}")
            return Source(mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ), f"file:{args.file}")
    print(f"reading {args.keys_topic}, {args.events_topic}, {args.checkpoints_topic} from {args.bootstrap} …",
          file=sys.stderr)
    log_topics = (args.keys_topic, args.events_topic)
    messages, checkpoints = asyncio.run(snapshot(args.bootstrap, log_topics, args.checkpoints_topic))
    data, unsealed = rebuild(messages, checkpoints, opts.keyring(), opts.skew(), args.keys_topic)
    return Source(data, f"kafka:{args.bootstrap}", unsealed)


def download(url: str, out: Path) -> int:
    """Stream the audit service's /api/export to a file; returns its size."""
    size = 0
    with httpx.stream("GET", f"{url.rstrip('/')}/api/export", timeout=60) as reply, out.open("wb") as fh:
        reply.raise_for_status()
        for chunk in reply.iter_bytes():
            size += fh.write(chunk)
    return size


def progress_bar(label: str) -> Callable[[int, int], None]:
    """A progress bar on stderr (the structure pass reports bytes done of the total)."""
    began, last = time.monotonic(), [0.0]

    def show(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] < 0.2 and done < total:
            return
        last[0] = now
        share = done / total if total else 1.0
        bar = "█" * int(share * 30) + "░" * (30 - int(share * 30))
        end = "\n" if done >= total else ""
        print(f"\r{label} {bar} {share:6.1%}  {now - began:6.1f} s", end=end, file=sys.stderr, flush=True)

    return show
