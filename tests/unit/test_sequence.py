"""Producer sequences: gaps, duplicates and late arrivals are all noticed."""

from events.sequence import GapDetector, ProducerSequence, SeqProblem


def test_allocator_counts_from_one_without_gaps():
    seq = ProducerSequence("review")
    assert [seq.next() for _ in range(3)] == [1, 2, 3]


def test_in_order_numbers_raise_nothing():
    det = GapDetector()
    assert [det.observe("review", n) for n in (1, 2, 3)] == [None, None, None]
    assert det.open_gaps() == {}


def test_a_gap_is_reported_and_stays_open_until_filled():
    det = GapDetector()
    det.observe("pharmacy", 1)
    issue = det.observe("pharmacy", 4)
    assert issue.problem is SeqProblem.GAP and (issue.expected, issue.got) == (2, 4)
    assert "2..3 missing" in issue.describe()
    assert det.open_gaps() == {"pharmacy": [2, 3]}
    assert det.observe("pharmacy", 2).problem is SeqProblem.REGRESSION
    det.observe("pharmacy", 3)
    assert det.open_gaps() == {}


def test_duplicates_are_reported_below_and_above_the_watermark():
    det = GapDetector()
    for n in (1, 2, 5):
        det.observe("delivery", n)
    assert det.observe("delivery", 2).problem is SeqProblem.DUPLICATE
    assert det.observe("delivery", 5).problem is SeqProblem.DUPLICATE


def test_producers_are_counted_separately():
    det = GapDetector()
    det.observe("a", 1)
    assert det.observe("b", 1) is None
    assert det.last_seen("a") == 1 and det.last_seen("b") == 1
