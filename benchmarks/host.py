"""The machine the timing figures were taken on, as BENCHMARKS.md states it."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Host:
    cpus: int  # usable by this process (what nproc prints)
    cpu_model: str
    python: str
    system: str
    load: float  # 1-minute load average when described: other processes share the CPUs with the timings


def describe() -> Host:
    return Host(len(os.sched_getaffinity(0)), _cpu_model(), platform.python_version(), platform.platform(), os.getloadavg()[0])


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"
