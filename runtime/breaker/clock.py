"""The wall clock every circuit record is written in: integer epoch milliseconds.

The state machine takes the time as an argument and never reads a clock; the callers at the
edges (the checker, the extension, the operator command, the local stack) read it here, so they
all agree on the unit.
"""

import time


def epoch_ms() -> int:
    return time.time_ns() // 1_000_000
