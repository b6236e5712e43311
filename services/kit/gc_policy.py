"""How a served service process runs CPython's cyclic garbage collector.

With CPython's defaults (a young collection every 700 net allocations, an older one every 10 of
those, a full one every 10 older ones), a service under load ran a full collection about every
150 prescriptions, and each walked all the ~240,000 objects that the imports, the app and its
caches had made: 125 ms of CPU apiece. The collector took 10-14 % of every service's CPU
(2,000 prescriptions at 150 in flight, timed through gc.callbacks), for objects that mostly live
as long as the process and were never garbage.

So once a service has started, what exists is frozen (full collections skip it), and the
young generation is collected every 10,000 allocations instead of 700: a full collection then
comes every million allocations or so, and walks only what the run has made since. Cycles are
still collected, later; peak RSS grew by under 5 MB. The collector's CPU fell to a tenth, and the
services' CPU per prescription by 10-14 % against the processes this does not touch (README).
"""

from __future__ import annotations

import gc
from typing import Any

YOUNG_EVERY = 10_000  # net allocations between young collections (CPython's default: 700)
OLDER_EVERY = 10  # collections of a generation between collections of the next (the default)


def settle() -> None:
    """Collect, freeze what the started process holds, and space the collections out."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_EVERY, OLDER_EVERY, OLDER_EVERY)


def stats() -> dict[str, Any]:
    """What /health reports: the thresholds, the frozen objects, and collections by generation."""
    return {"thresholds": list(gc.get_threshold()), "frozen_objects": gc.get_freeze_count(),
            "collections": [generation["collections"] for generation in gc.get_stats()]}
