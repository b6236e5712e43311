"""Offset commits at most once per interval, only of processed records, never going back."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest
from aiokafka import TopicPartition

from services.kit.commits import OffsetCommits

A, B = TopicPartition("rx.events", 0), TopicPartition("rx.events", 1)


@dataclass
class Record:
    topic: str
    partition: int
    offset: int


def records(tp: TopicPartition, *offsets: int) -> list[Record]:
    return [Record(tp.topic, tp.partition, o) for o in offsets]


@dataclass
class GroupMember:
    """What OffsetCommits uses of aiokafka's consumer: the partitions it owns and commit()."""

    owned: set[TopicPartition] = field(default_factory=lambda: {A, B})
    sent: list[dict[TopicPartition, int]] = field(default_factory=list)
    failures: int = 0  # the next commits that fail (coordinator away)

    def assignment(self) -> set[TopicPartition]:
        return set(self.owned)

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("coordinator not available")
        self.sent.append(dict(offsets))


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_the_first_batch_is_committed_at_once_past_its_last_record_per_partition():
    member, commits = GroupMember(), OffsetCommits("t", interval_s=60)
    commits.processed(member, records(A, 3, 4, 5) + records(B, 9))
    await settle()
    assert member.sent == [{A: 6, B: 10}]


async def test_batches_within_the_interval_wait_and_leave_in_one_commit():
    member, commits = GroupMember(), OffsetCommits("t", interval_s=0.2)
    commits.processed(member, records(A, 0, 1))
    await settle()
    commits.processed(member, records(A, 2))
    commits.processed(member, records(A, 3) + records(B, 0))
    await settle()
    assert member.sent == [{A: 2}]  # the other two wait for the interval
    await asyncio.sleep(0.3)
    assert member.sent == [{A: 2}, {A: 4, B: 1}]
    assert commits.commits == 2
    await asyncio.sleep(0.3)
    assert len(member.sent) == 2  # nothing new: nothing sent


async def test_a_rewound_batch_never_moves_a_commit_back():
    member, commits = GroupMember(), OffsetCommits("t", interval_s=0)
    commits.processed(member, records(A, 10, 11))
    await settle()
    commits.processed(member, records(A, 5, 6))  # read again after a failed batch
    await settle()
    assert member.sent == [{A: 12}]


async def test_a_partition_this_member_no_longer_owns_is_not_committed():
    member, commits = GroupMember(owned={A}), OffsetCommits("t", interval_s=0)
    commits.processed(member, records(A, 0) + records(B, 7))
    await settle()
    assert member.sent == [{A: 1}]


async def test_a_failed_commit_is_sent_again_after_the_interval():
    member, commits = GroupMember(failures=1), OffsetCommits("t", interval_s=0.1)
    commits.processed(member, records(A, 0))
    await settle()
    assert member.sent == []
    await asyncio.sleep(0.25)
    assert member.sent == [{A: 1}]


async def test_flush_commits_at_once_and_nothing_is_sent_after_it():
    member, commits = GroupMember(), OffsetCommits("t", interval_s=60)
    commits.processed(member, records(A, 0))
    await settle()
    commits.processed(member, records(A, 1))
    await commits.flush()
    assert member.sent == [{A: 1}, {A: 2}]
    commits.processed(member, records(A, 2))  # a batch that ended during the stop
    await asyncio.sleep(0.05)
    assert member.sent == [{A: 1}, {A: 2}]


async def test_the_in_memory_test_brokers_consumer_is_left_alone():
    class NoGroup:
        async def commit(self) -> None:
            raise AssertionError("not to be called")

    commits = OffsetCommits("t", interval_s=0)
    commits.processed(NoGroup(), records(A, 0))
    await commits.flush()
    assert commits.commits == 0


@dataclass
class BatchMessage:
    """What OffsetCommits.keep uses of faststream's batch message: its consumer and nack()."""

    consumer: GroupMember
    rewound: bool = False

    async def nack(self) -> None:
        self.rewound = True


async def test_a_batch_whose_keeping_fails_is_rewound_and_not_committed():
    member, commits = GroupMember(), OffsetCommits("t", interval_s=0)

    async def database_down() -> list[Record]:
        raise ConnectionError("database down")

    msg = BatchMessage(member)
    with pytest.raises(ConnectionError):  # the caller (faststream) still sees the failure
        await commits.keep(msg, database_down)
    await settle()
    assert msg.rewound and member.sent == []

    async def kept() -> list[Record]:
        return records(A, 0, 1)

    msg = BatchMessage(member)
    await commits.keep(msg, kept)
    await settle()
    assert not msg.rewound and member.sent == [{A: 2}]
