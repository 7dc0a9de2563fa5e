"""The processes of an execution environment.

Each runs in its own process group with stdout and stderr in one log file, is reaped by a
watcher thread the moment it ends (so an exit is noticed while nobody waits for it), and is
killed as a group, so that a launcher's children die with it as they do in Lambda.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable


@dataclass(frozen=True)
class ProcessInfo:
    name: str
    kind: str  # "runtime" or "extension"
    pid: int
    started_at: float  # monotonic, just before the launch
    returncode: int | None  # negative: killed by that signal
    log_path: Path


class ManagedProcess:
    """One launched process; ``on_exit(returncode)`` runs in the watcher thread."""

    def __init__(
        self,
        name: str,
        kind: str,
        argv: list[str],
        env: dict[str, str],
        cwd: Path,
        log_path: Path,
        on_exit: Callable[[int], None],
    ) -> None:
        self.name = name
        self.kind = kind
        self.log_path = log_path
        self._log_file = open(log_path, "ab")
        self.started_at = time.monotonic()
        try:
            self._popen = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=self._log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError:
            self._log_file.close()
            raise
        self._watcher = threading.Thread(
            target=lambda: on_exit(self._popen.wait()), name=f"watch-{name}", daemon=True
        )
        self._watcher.start()

    def info(self) -> ProcessInfo:
        popen = self._popen
        return ProcessInfo(
            self.name, self.kind, popen.pid, self.started_at, popen.returncode, self.log_path
        )

    def read_log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait(self, timeout_s: float) -> None:
        """Wait up to ``timeout_s`` for the process to end (and its exit to be reported)."""
        self._watcher.join(max(0.0, timeout_s))

    def terminate(self, grace_s: float) -> None:
        """SIGTERM, then SIGKILL to the group if the process has not ended within
        ``grace_s``."""
        if self._popen.poll() is None:
            self._popen.send_signal(signal.SIGTERM)
        self.wait(grace_s)
        self.kill()

    def kill(self) -> None:
        # The group outlives its leader while the leader's children run: kill it regardless.
        try:
            os.killpg(self._popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def reap(self) -> None:
        """Kill what is left, wait for the exit to be reported, close the log."""
        self.kill()
        self._watcher.join()
        self._log_file.close()
