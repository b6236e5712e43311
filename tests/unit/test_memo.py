"""SameObjectMemo: a value is reused only for the very object it was derived from."""

from services.kit.memo import SameObjectMemo


class Issued:
    """Stands for an immutable payload: equal content, distinct objects."""

    def __init__(self, drugs: str) -> None:
        self.drugs = drugs


class Counted:
    """A derive function that counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, issued: Issued) -> str:
        self.calls += 1
        return f"{issued.drugs}#{self.calls}"


def test_the_same_object_is_derived_once() -> None:
    derive = Counted()
    memo = SameObjectMemo(derive)
    issued = Issued("阿莫西林")
    assert memo("rx-1", issued) == memo("rx-1", issued) == "阿莫西林#1"
    assert derive.calls == 1


def test_another_object_under_the_same_key_is_derived_anew() -> None:
    memo = SameObjectMemo(Counted())
    first, second = Issued("a"), Issued("b")
    assert memo("rx-1", first) == "a#1"
    # A stream folded again after a restart, or a fold the cache had let go: a new object.
    assert memo("rx-1", second) == "b#2"
    assert memo("rx-1", first) == "a#3"


def test_keys_are_kept_apart() -> None:
    memo = SameObjectMemo(Counted())
    issued = Issued("x")
    assert memo("rx-1", issued) == "x#1"
    assert memo("rx-2", issued) == "x#2"
    assert memo("rx-1", issued) == "x#1"


def test_the_oldest_key_goes_when_full() -> None:
    memo = SameObjectMemo(Counted(), size=2)
    objs = [Issued(str(i)) for i in range(3)]
    for i, o in enumerate(objs):
        memo(f"rx-{i}", o)
    assert memo("rx-0", objs[0]) == "0#4"  # let go, derived again
    assert memo("rx-2", objs[2]) == "2#3"
