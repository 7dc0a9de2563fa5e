"""The extension's share of a cold start, from the emulator's own clock.

``ExecutionEnvironment.extension_timings()`` measures from the extension's process start
(the launcher's fork) to its registration (``register``: what delays the runtime's start, since
Lambda starts the runtime once every extension has registered) and to its first
``event/next`` (``first next``: boto3 imported, the DynamoDB client made and the circuits
loaded, overlapping the runtime's own start). ``STARTS`` fresh environments; medians.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

from .extension_env import circuits_table, extension_environment, free_port, function_dir
from .servers import serving

STARTS = 10


@dataclass(frozen=True)
class ColdStart:
    to_register_ms: float
    to_first_next_ms: float
    init_ms: float  # the whole init phase: extension and runtime both ready
    starts: int


def measure(layer_dir: Path, work: Path) -> ColdStart:
    registered, first_next, init = [], [], []
    with serving("dynamodb") as endpoint:
        table = circuits_table(endpoint)
        code = function_dir(work)
        for _ in range(STARTS):
            with extension_environment(layer_dir, code, table, free_port()) as environment:
                (timing,) = environment.extension_timings()
                if timing.to_register_ms is None or timing.to_first_next_ms is None:
                    raise RuntimeError(f"the extension did not finish its init: {timing}")
                registered.append(timing.to_register_ms)
                first_next.append(timing.to_first_next_ms)
                assert environment.init_duration_ms is not None
                init.append(environment.init_duration_ms)
    return ColdStart(statistics.median(registered), statistics.median(first_next), statistics.median(init), STARTS)
