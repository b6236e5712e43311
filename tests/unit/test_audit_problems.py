"""Which problem a regulator is told first."""

from services.audit.problems import Problem, Problems


def test_a_refused_entry_comes_before_the_sequence_gap_it_opens_at_an_earlier_line():
    problems = Problems()
    problems.add(Problem(7, "sequence", "pharmacy producer_seq 12 missing before 13"))  # 13 sits at line 7
    problems.add(Problem(9, "rejected", "bad_signature"))  # the tampered entry, producer_seq 12
    problems.add(Problem(11, "chain", "entry hash does not match"))
    assert [p.line for p in problems.sorted()] == [9, 11, 7]


def test_keeping_only_the_first_few_keeps_entry_problems_first():
    problems, other = Problems(keep=2), Problems(keep=2)
    for line in range(10):
        problems.add(Problem(line, "sequence", "gap"))
    other.add(Problem(50, "rejected", "bad_signature"))
    problems.merge(other)
    assert [(p.line, p.kind) for p in problems.sorted()] == [(50, "rejected"), (0, "sequence")]
    assert len(problems) == 11
