"""The S3 front's copies of recent batch objects, which every reader of a partition GETs in turn.

Tansu stores each produced batch as one object, written once (a PUT with If-None-Match: *) and
never changed, and each reader's fetch GETs it again: at 20 prescriptions/s SeaweedFS served
about six GETs of every batch, over half of all it was asked, at over a millisecond of CPU each.
The front keeps the answer of the first GET of a batch and gives it to the other readers.

A copy is only taken from an answer of SeaweedFS to a plain GET (no range, no condition), and
any write the front relays to the key drops it before the write's answer goes back: a batch
deleted with its topic and written again is never served from before.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from multidict import CIMultiDict

KEPT_BYTES = 64 << 20  # the newest batches of every partition, with room to spare
# A GET whose answer depends on more than the key: not kept, not answered from a copy.
VARYING = ("range", "if-match", "if-none-match", "if-modified-since", "if-unmodified-since", "part-number")


@dataclass(frozen=True)
class StoredObject:
    headers: CIMultiDict[str]
    body: bytes


def kept_kind(key: str, headers: CIMultiDict[str] | dict[str, str], query: str) -> bool:
    """Whether a GET of key may be answered from a copy: a batch object, asked for plainly."""
    lowered = {h.lower() for h in headers}
    return (key.endswith(".batch") and "/records/" in key and not query
            and not any(h in lowered for h in VARYING))


@dataclass
class ObjectCache:
    """Answers to GETs of batch objects, newest kept, up to a budget of bytes."""

    budget: int = KEPT_BYTES
    hits: int = 0
    _objects: OrderedDict[tuple[str, str], StoredObject] = field(default_factory=OrderedDict)
    _bytes: int = 0

    def get(self, bucket: str, key: str) -> StoredObject | None:
        found = self._objects.get((bucket, key))
        if found is not None:
            self._objects.move_to_end((bucket, key))
            self.hits += 1
        return found

    def keep(self, bucket: str, key: str, stored: StoredObject) -> None:
        self.drop(bucket, key)
        self._objects[(bucket, key)] = stored
        self._bytes += len(stored.body)
        while self._bytes > self.budget and self._objects:
            _, oldest = self._objects.popitem(last=False)
            self._bytes -= len(oldest.body)

    def drop(self, bucket: str, key: str) -> None:
        """A write to key was relayed (whatever its outcome); an empty key: to the whole bucket."""
        if not key:
            for where in [w for w in self._objects if w[0] == bucket]:
                self._bytes -= len(self._objects.pop(where).body)
            return
        gone = self._objects.pop((bucket, key), None)
        if gone is not None:
            self._bytes -= len(gone.body)
