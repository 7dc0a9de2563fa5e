"""Ctrl-C and SIGTERM end a run cleanly: SHUTDOWN delivered, every process gone, the summary printed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Optional

import pytest

from local_stack_support import PAYMENTS_ONLY, ROOT


def _stat(pid: int) -> Optional[list[str]]:
    """The fields of /proc/<pid>/stat after the command name (state, ppid, ...), or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def descendants(root: int) -> dict[int, str]:
    """Every process below ``root``, with its start time (so a reused pid is not mistaken for it)."""
    children: dict[int, list[int]] = defaultdict(list)
    started: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        fields = _stat(int(entry.name)) if entry.name.isdigit() else None
        if fields is not None:
            children[int(fields[1])].append(int(entry.name))
            started[int(entry.name)] = fields[19]
    found: dict[int, str] = {}
    pending = list(children[root])
    while pending:
        pid = pending.pop()
        found[pid] = started[pid]
        pending.extend(children[pid])
    return found


def running(pid: int, started: str) -> bool:
    fields = _stat(pid)
    return fields is not None and fields[19] == started and fields[0] != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=lambda sig: sig.name)
def test_a_signal_shuts_the_fleet_down_and_still_prints_the_summary(write_file, sig: signal.Signals) -> None:
    stack = write_file("Pulumi.ci.yaml", PAYMENTS_ONLY)
    process = subprocess.Popen(
        [sys.executable, "-m", "local_stack", "--stack", str(stack), "--duration", "3600"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,  # a process group of its own, as a terminal's foreground job has
    )
    lines: list[str] = []
    is_running = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Running;"):
                is_running.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert is_running.wait(60), "".join(lines)
        time.sleep(1.0)  # traffic flows, the checker has run
        children = descendants(process.pid)
        # Two business environments (runtime + extension each), the checker's runtime, the mock.
        assert len(children) >= 6, children
        if sig is signal.SIGINT:
            os.killpg(process.pid, sig)  # what Ctrl-C does: the whole foreground group
        else:
            process.send_signal(sig)
        assert process.wait(30) == 128 + sig
    finally:
        if process.poll() is None:
            process.kill()
    reader.join(10)
    output = "".join(lines)
    assert "Summary: stack" in output and f"Result: interrupted by {sig.name}" in output
    assert "Shutdown: SHUTDOWN delivered to 2 of 2 extensions" in output and "0 still running" in output
    assert not [pid for pid, started in children.items() if running(pid, started)]
