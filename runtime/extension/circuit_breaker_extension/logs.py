"""One JSON object per line on stdout: Lambda ships an extension's stdout to CloudWatch Logs.

Flushed on every line because stdout is a pipe there, and a buffered line may never leave
an environment that Lambda freezes or shuts down.
"""

from __future__ import annotations

import json
import sys
import time


def log(event: str, **fields: object) -> None:
    line = {"ts": round(time.time(), 3), "source": "circuit-breaker", "event": event, **fields}
    print(json.dumps(line, default=str, separators=(",", ":")), file=sys.stdout, flush=True)
