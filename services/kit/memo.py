"""Values derived from an immutable object, kept while the very same object comes back.

A read model is written again every time a batch touches its stream, and most of its columns
come from the issued prescription, which never changes: the review's projection took 33 µs a
row, most of it turning that prescription into JSON again (12 µs with it kept). The fold cache
(kit/fold_cache.py) hands the projection the same issued object for as long as it remembers the
stream, so what was derived from it can be kept beside it. Nothing here can be wrong, only
missing: a value is reused only for the object it was derived from (held here, so its identity
cannot pass to another), and anything else is derived anew.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

from services.kit.fold_cache import DEFAULT_STREAMS

Source = TypeVar("Source")
T = TypeVar("T")


class SameObjectMemo(Generic[Source, T]):
    """derive(obj), remembered per key for as long as obj is the same object; the oldest keys go first.

    One memo serves one derive function, given once: a second function under the same keys and
    objects would be handed the first one's values."""

    def __init__(self, derive: Callable[[Source], T], size: int = DEFAULT_STREAMS) -> None:
        self.derive, self.size = derive, size
        self._kept: OrderedDict[str, tuple[Source, T]] = OrderedDict()

    def __call__(self, key: str, obj: Source) -> T:
        kept = self._kept.get(key)
        if kept is not None and kept[0] is obj:
            return kept[1]
        value = self.derive(obj)
        self._kept[key] = (obj, value)
        self._kept.move_to_end(key)
        if len(self._kept) > self.size:
            self._kept.popitem(last=False)
        return value
