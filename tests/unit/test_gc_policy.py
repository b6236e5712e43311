"""The garbage-collector policy of a served process: what settle() leaves behind.

Run in a child interpreter: freezing this test process's objects would change how every later
test collects its garbage.
"""

from __future__ import annotations

import json
import subprocess
import sys

from services.kit import gc_policy

CHILD = """
import json, weakref
from services.kit import gc_policy
class Node: pass
garbage = Node(); garbage.me = garbage  # a cycle, unreachable once the name is dropped
cycle = weakref.ref(garbage)
del garbage
before = gc_policy.stats()
gc_policy.settle()
after = gc_policy.stats()
print(json.dumps({"before": before, "after": after, "cycle_freed": cycle() is None}))
"""


def test_settle_freezes_what_exists_collects_garbage_first_and_spaces_collections():
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, check=True)
    seen = json.loads(out.stdout)
    before, after = seen["before"], seen["after"]
    assert before["thresholds"] == [700, 10, 10] and before["frozen_objects"] == 0  # CPython's defaults
    assert after["thresholds"] == [gc_policy.YOUNG_EVERY, gc_policy.OLDER_EVERY, gc_policy.OLDER_EVERY]
    assert after["frozen_objects"] > 1000  # the interpreter's and the imports' objects
    # settle() collected before it froze: the cycle is gone, not frozen for the process's life.
    assert after["collections"][2] == before["collections"][2] + 1 and seen["cycle_freed"]
