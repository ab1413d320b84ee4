"""Fault injection: crash the process at a named commit point, to prove resume is exact.

`SEGCAP_CRASH_AT=<point>[:<n>]` makes the n-th time (default the first) this process passes
`<point>` end with `os._exit(CRASH_EXIT_CODE)`: no clean-up, no flushing, as a kill -9 or a
power cut would leave it. The points are the moments between the steps of a commit, in order:

- `after_shard_write`: a shard's temp file is written and closed, not yet renamed
- `after_rename`: a shard has its final name, its unit has no marker yet
- `before_marker`: every shard of a unit is in place, the marker is not written
- `after_marker`: the unit's marker is written (the next unit has not started)
- `during_swap`: a replacing step moved the old version aside, the new one is not in place

Unset (the normal case), `crash_point` is one dictionary lookup.
"""

from __future__ import annotations

import os
from collections import Counter

CRASH_ENV = "SEGCAP_CRASH_AT"
CRASH_EXIT_CODE = 86
POINTS = ("after_shard_write", "after_rename", "before_marker", "after_marker", "during_swap")

_passed: Counter = Counter()


def crash_point(point: str) -> None:
    spec = os.environ.get(CRASH_ENV)
    if not spec:
        return
    wanted, _, nth = spec.partition(":")
    if wanted != point:
        return
    _passed[point] += 1
    if _passed[point] >= int(nth or 1):
        os._exit(CRASH_EXIT_CODE)
