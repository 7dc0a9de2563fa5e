"""Ports for the extensions to listen on, each handed out once.

The extension binds its port itself, a moment after the port is chosen here, so nothing may take
it in between. A port from the ephemeral range (where ``bind(port 0)`` and every outgoing
connection get theirs) can be taken by any of the many loopback connections the fleet opens
meanwhile, and was, now and then. A port below that range is only ever taken by a process that
binds it on purpose, so the ports come from there, checked free first.
"""

from __future__ import annotations

import random
import socket
import threading
from pathlib import Path

LOWEST = 10000
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")  # Linux; 32768-60999 by default
DEFAULT_EPHEMERAL_START = 32768  # Linux's default; macOS and Windows start higher (49152)
ATTEMPTS = 200


def ephemeral_start() -> int:
    try:
        return int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return DEFAULT_EPHEMERAL_START


class ListenPorts:
    def __init__(self) -> None:
        self._candidates = range(LOWEST, max(LOWEST + 1000, min(ephemeral_start(), DEFAULT_EPHEMERAL_START)))
        self._given: set[int] = set()
        self._lock = threading.Lock()

    def take(self) -> int:
        """A loopback port that is free now and was never handed out before."""
        with self._lock:
            for _ in range(ATTEMPTS):
                port = random.choice(self._candidates)
                if port not in self._given and _bindable(port):
                    self._given.add(port)
                    return port
        raise RuntimeError(f"no free loopback port in {self._candidates.start}-{self._candidates.stop - 1}")


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
