"""Offsets a consumer was not given: read them again instead of committing past them.

Our topics are neither compacted nor transactional, so a partition's offsets are contiguous:
a record whose offset jumps past the next expected one means records in between were not
delivered, and committing after it would skip them for good. Tansu on S3 does this under
concurrent produces: a produce raises the partition's high watermark before it has written its
batch, so a fetch in between lists the later batches of a faster producer and not its own (seen
in `make bench`: three services skipped 123 records and the prescriptions in them never moved).
Reading from the first missing offset again finds them once the slow write has landed.

So a batch is cut at its first hole per partition: what precedes it is processed, the
consumer seeks back to the hole, and only that offset is committed. A hole still there after
MAX_REREADS reads is a record the broker does not have: it is logged, counted on /health
(the audit service's producer_seq check names what is missing) and the records flow on.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import TopicPartition

log = logging.getLogger(__name__)

MAX_REREADS = 20


@dataclass(frozen=True)
class Hole:
    topic: str
    partition: int
    expected: int  # the first offset not received
    got: int  # the offset that came instead

    def describe(self) -> str:
        return f"{self.topic}/{self.partition}: offsets {self.expected}..{self.got - 1} never received"


@dataclass(frozen=True)
class Taken:
    """A batch as the watch lets it through."""

    records: list[Any]  # to process now, in the order given
    reread: list[Hole]  # seek each partition back to hole.expected and read it again (the watch
    # already expects hole.expected next there)
    given_up: list[Hole]  # read MAX_REREADS times and still missing: accepted


@dataclass
class OffsetWatch:
    """The next offset expected per partition, from the records received in this process."""

    max_rereads: int = MAX_REREADS
    next: dict[tuple[str, int], int] = field(default_factory=dict)
    holes: list[Hole] = field(default_factory=list)  # given up on
    _rereads: dict[tuple[str, int, int], int] = field(default_factory=dict)

    def take(self, records: Sequence[Any]) -> Taken:
        """Split a batch (objects with topic, partition, offset) at its holes.

        Offsets lower than expected are redeliveries (a rewind after a failed batch): not holes.
        The first batch of a partition is not checked: it starts at the committed offset.
        """
        cut: dict[tuple[str, int], int] = {}  # partition -> first offset not to process now
        reread, given_up = [], []
        for r in sorted(records, key=lambda r: (r.topic, r.partition, r.offset)):
            key = (r.topic, r.partition)
            if key in cut:
                continue
            expected = self.next.get(key)
            if expected is not None and r.offset > expected:
                hole = Hole(r.topic, r.partition, expected, r.offset)
                tries = self._rereads.get((*key, expected), 0)
                if tries < self.max_rereads:
                    self._rereads[(*key, expected)] = tries + 1
                    reread.append(hole)
                    cut[key] = r.offset
                    continue
                given_up.append(hole)
                self.holes.append(hole)
            self.next[key] = max(expected or 0, r.offset + 1)
        for hole in reread:
            self._forget_rereads_before(hole)
        kept = [r for r in records if r.offset < cut.get((r.topic, r.partition), r.offset + 1)]
        return Taken(kept, reread, given_up)

    def _forget_rereads_before(self, hole: Hole) -> None:
        # Counts of holes already filled in this partition are no longer needed.
        for k in [k for k in self._rereads if k[:2] == (hole.topic, hole.partition) and k[2] < hole.expected]:
            del self._rereads[k]


def take_contiguous(watch: OffsetWatch, msg: Any, consumer_name: str) -> Taken:
    """The records of a faststream batch message that may be processed now; the consumer is
    sought back to every hole, so the acknowledgement commits nothing past one."""
    records = msg.raw_message if isinstance(msg.raw_message, tuple | list) else (msg.raw_message,)
    return take_records(watch, records, msg.consumer, consumer_name)


def take_records(watch: OffsetWatch, records: Sequence[Any], consumer: Any, consumer_name: str) -> Taken:
    """The records of a batch that may be processed now; `consumer` (aiokafka) is sought back
    to every hole, so it reads the missing offsets again."""
    taken = watch.take(records)
    for hole in taken.reread:
        log.warning("%s: %s; reading them again", consumer_name, hole.describe())
        consumer.seek(TopicPartition(hole.topic, hole.partition), hole.expected)
    for hole in taken.given_up:
        log.error("%s: %s after %d reads; going on without them", consumer_name, hole.describe(), watch.max_rereads)
    return taken
