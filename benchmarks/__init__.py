"""`make bench`: measured figures for the circuit breaker against the designs it replaces.

The outage simulation drives the project's own code (the state machine, the TTL cache, the
store and the extension's circuit service), and the lookup and cold-start figures run the real
extension process. That code is laid out as Lambda sees it: ``runtime/`` is the root of every
function zip (``breaker``, ``checker``, ``local``, ``artifacts`` import from there) and the
extension's package sits in ``runtime/extension/`` beside its launcher. Neither folder is an
installed package, so both go on ``sys.path`` here, exactly as pytest's ``pythonpath`` setting
and the layer's launcher put them there.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNTIME = ROOT / "runtime"

for _folder in (RUNTIME / "extension", RUNTIME):
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))
