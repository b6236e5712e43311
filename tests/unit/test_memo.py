"""SameObjectMemo: a value is reused only for the very object it was derived from."""

from services.kit.memo import SameObjectMemo


class Issued:
    """Stands for an immutable payload: equal content, distinct objects."""

    def __init__(self, drugs: str) -> None:
        self.drugs = drugs


def test_the_same_object_is_derived_once() -> None:
    memo: SameObjectMemo[str] = SameObjectMemo()
    calls = []
    issued = Issued("阿莫西林")

    def derive() -> str:
        calls.append(1)
        return issued.drugs.upper()

    assert memo.get("rx-1", issued, derive) == memo.get("rx-1", issued, derive) == "阿莫西林"
    assert len(calls) == 1


def test_another_object_under_the_same_key_is_derived_anew() -> None:
    memo: SameObjectMemo[str] = SameObjectMemo()
    first, second = Issued("a"), Issued("b")
    assert memo.get("rx-1", first, lambda: first.drugs) == "a"
    # A stream folded again after a restart, or a fold the cache had let go: a new object.
    assert memo.get("rx-1", second, lambda: second.drugs) == "b"
    assert memo.get("rx-1", first, lambda: "derived again") == "derived again"


def test_keys_are_kept_apart() -> None:
    memo: SameObjectMemo[str] = SameObjectMemo()
    issued = Issued("x")
    assert memo.get("rx-1", issued, lambda: "one") == "one"
    assert memo.get("rx-2", issued, lambda: "two") == "two"
    assert memo.get("rx-1", issued, lambda: "not used") == "one"


def test_the_oldest_key_goes_when_full() -> None:
    memo: SameObjectMemo[int] = SameObjectMemo(size=2)
    objs = [Issued(str(i)) for i in range(3)]
    for i, o in enumerate(objs):
        memo.get(f"rx-{i}", o, lambda i=i: i)
    assert memo.get("rx-0", objs[0], lambda: -1) == -1  # let go, derived again
    assert memo.get("rx-2", objs[2], lambda: -1) == 2
