"""The consumer's watch for offsets it never received."""

from collections import namedtuple

from services.kit.offsets import Hole, OffsetWatch

R = namedtuple("R", "topic partition offset")


def test_contiguous_batches_and_redeliveries_are_not_holes():
    watch = OffsetWatch()
    assert watch.received([R("t", 0, 5), R("t", 0, 6), R("t", 1, 0)]) == []
    assert watch.received([R("t", 0, 7), R("t", 1, 1)]) == []
    assert watch.received([R("t", 0, 6), R("t", 0, 7), R("t", 0, 8)]) == []  # rewound after a failed batch
    assert watch.holes == []


def test_a_jump_past_the_next_offset_is_named():
    watch = OffsetWatch()
    watch.received([R("t", 0, 0), R("t", 0, 1), R("t", 2, 9)])
    holes = watch.received([R("t", 2, 10), R("t", 0, 4), R("t", 0, 3)])  # out of order within a batch
    assert holes == [Hole("t", 0, 2, 3)]
    assert holes[0].describe() == "t/0: offsets 2..2 never received"
    assert watch.received([R("t", 0, 5)]) == [] and watch.holes == holes
