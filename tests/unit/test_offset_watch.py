"""The consumer's watch for offsets it was not given."""

from collections import namedtuple

from services.kit.offsets import Hole, OffsetWatch

R = namedtuple("R", "topic partition offset")


def test_contiguous_batches_and_redeliveries_pass_whole():
    watch = OffsetWatch()
    for batch in ([R("t", 0, 5), R("t", 0, 6), R("t", 1, 0)], [R("t", 0, 7), R("t", 1, 1)],
                  [R("t", 0, 6), R("t", 0, 7), R("t", 0, 8)]):  # the last: rewound after a failed batch
        taken = watch.take(batch)
        assert (taken.records, taken.reread, taken.given_up) == (batch, [], [])
    assert watch.holes == []


def test_a_batch_is_cut_at_its_hole_and_the_hole_is_read_again():
    watch = OffsetWatch()
    watch.take([R("t", 0, 0), R("t", 0, 1), R("t", 2, 9)])
    # Out of order within the batch, and another partition unaffected.
    taken = watch.take([R("t", 2, 10), R("t", 0, 4), R("t", 0, 3), R("t", 0, 5)])
    assert taken.reread == [Hole("t", 0, 2, 3)]
    assert taken.reread[0].describe() == "t/0: offsets 2..2 never received"
    assert taken.records == [R("t", 2, 10)]  # nothing of partition 0 past its hole
    assert taken.given_up == [] and watch.holes == []
    # Read again from offset 2: the missing record is there now, and the rest follows.
    again = watch.take([R("t", 0, 2), R("t", 0, 3), R("t", 0, 4)])
    assert (again.records, again.reread, again.given_up) == ([R("t", 0, 2), R("t", 0, 3), R("t", 0, 4)], [], [])


def test_a_hole_that_stays_is_accepted_after_the_last_reread():
    watch = OffsetWatch(max_rereads=2)
    watch.take([R("t", 0, 0)])
    for _ in range(2):
        assert watch.take([R("t", 0, 3)]).reread == [Hole("t", 0, 1, 3)]
    last = watch.take([R("t", 0, 3), R("t", 0, 4)])
    assert last.records == [R("t", 0, 3), R("t", 0, 4)] and last.reread == []
    assert last.given_up == [Hole("t", 0, 1, 3)] == watch.holes


def test_a_batch_message_is_sought_back_to_its_hole():
    from types import SimpleNamespace

    from aiokafka import TopicPartition

    from services.kit.offsets import take_contiguous

    sought = []
    consumer = SimpleNamespace(seek=lambda tp, offset: sought.append((tp, offset)))
    watch = OffsetWatch()
    take_contiguous(watch, SimpleNamespace(raw_message=(R("rx.events", 0, 7),), consumer=consumer), "review")
    batch = (R("rx.events", 0, 8), R("rx.events", 0, 11), R("rx.events", 0, 12))
    taken = take_contiguous(watch, SimpleNamespace(raw_message=batch, consumer=consumer), "review")
    assert taken.records == [R("rx.events", 0, 8)]
    assert sought == [(TopicPartition("rx.events", 0), 9)]  # what the acknowledgement commits next
