"""Reading an export (docs/audit-format.md): lines, records, and the checks on their fields."""

from __future__ import annotations

import base64
import binascii
import contextlib
import gc
import re
import zlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from pydantic_core import from_json

from events.rejection import Reason
from services.audit.problems import Problem, Problems

ENTRY_FIELDS = frozenset({"kind", "seq", "prev", "topic", "partition", "offset", "log_time", "verdict", "reason",
                          "stream", "type", "message"})
CHECKPOINT_FIELDS = frozenset({"kind", "message"})
REASONS = frozenset(r.value for r in Reason)
HEX64 = re.compile(r"[0-9a-f]{64}")
UTC_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
Data = bytes | Any  # bytes or an mmap


@contextlib.contextmanager
def no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector: a pass over a log allocates millions of acyclic objects,
    and the collector would walk every live one again and again (refcounting still frees them)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def lines(data: Data, problems: Problems | None = None) -> Iterator[tuple[int, int, int]]:
    """(index, start, end) of every line; a missing final newline or an empty line is a problem."""
    start, index, size = 0, 0, len(data)
    while start < size:
        end = data.find(b"\n", start)
        if end < 0:
            if problems is not None:
                problems.add(Problem(index, "format", "the file does not end with a newline (cut short?)"))
            end = size
        if end == start and problems is not None:
            problems.add(Problem(index, "format", "empty line"))
        yield index, start, end
        start, index = end + 1, index + 1


def owner(data: Data, index: int, start: int, end: int, workers: int) -> int:
    """Which worker verifies this line: by stream, so each worker folds whole prescriptions."""
    at = data.rfind(b'"stream":"', start, end)
    if at < 0:
        return index % workers
    close = data.find(b'"', at + 10, end)
    return zlib.crc32(data[at + 10:close]) % workers


def claims_key_event(data: Data, start: int, end: int) -> bool:
    """Does the entry say it holds an accepted key event? Every worker must learn those keys."""
    return data.rfind(b'"type":"key.', start, end) >= 0 and data.rfind(b'"verdict":"accepted"', start, end) >= 0


def decode_message(text: Any, canonical: bool = True) -> bytes | None:
    """Strict base64 of a message; None if it is not base64 (or, if asked, not its one spelling)."""
    if not isinstance(text, str):
        return None
    try:
        raw = binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError):
        return None
    return raw if not canonical or base64.b64encode(raw).decode() == text else None


def parse_time(text: Any) -> datetime | None:
    """A log_time as the ledger writes it (format_utc: microseconds and a Z), else None."""
    if not isinstance(text, str) or not UTC_TIME.fullmatch(text):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def shape_problem(obj: dict[str, Any]) -> str | None:
    """What the structure pass needs to be right: fields, numbers, the chain link, the source."""
    if obj.keys() != ENTRY_FIELDS:
        return f"entry fields {sorted(obj)} are not {sorted(ENTRY_FIELDS)}"
    seq, partition, offset, prev, topic = obj["seq"], obj["partition"], obj["offset"], obj["prev"], obj["topic"]
    if not (type(seq) is int and type(partition) is int and type(offset) is int and min(seq, partition, offset) >= 0):
        return "seq, partition and offset must be non-negative integers"
    if type(prev) is not str or not HEX64.fullmatch(prev):
        return "prev must be 64 lowercase hex digits"
    if type(topic) is not str or not topic:
        return "topic must be a non-empty string"
    return None


def claim_problem(obj: dict[str, Any], at: datetime | None) -> str | None:
    """What the worker that verifies the message checks: the verdict's form and the log time
    (at: parse_time of it, which the caller needs too).

    (The message's base64 is checked by decoding it; entry lines need not be re-encoded to
    prove they are canonical, because every byte of them is hashed into the tree.)
    """
    log_time, verdict, reason, stream, kind = (obj["log_time"], obj["verdict"], obj["reason"], obj["stream"],
                                               obj["type"])
    if log_time is not None and at is None:
        return f"log_time {log_time!r} is not a UTC timestamp in the ledger's spelling"
    if verdict == "accepted":
        if reason is not None or type(stream) is not str or type(kind) is not str:
            return "an accepted entry has no reason, and its stream and type are strings"
    elif verdict != "rejected":
        return f"verdict {verdict!r} is neither accepted nor rejected"
    elif reason not in REASONS or stream is not None or kind is not None:
        return "a rejected entry has a known reason, and its stream and type are null"
    return None


def load_record(line: bytes) -> dict[str, Any] | None:
    """A line parsed as a JSON object (strict: no NaN), or None."""
    try:
        obj = from_json(line, allow_inf_nan=False)
    except (ValueError, RecursionError):
        return None
    return obj if type(obj) is dict else None
