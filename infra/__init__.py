"""The Pulumi program's building blocks: typed stack configuration and the component resources.

The program imports the runtime code it packages and validates against (``breaker``,
``artifacts``) by the names Lambda gives it: ``runtime/`` is the root of every function zip.
Putting that folder on ``sys.path`` here keeps one copy of each module per process, the same one
the tests, the local stack and the benchmarks import.
"""

import sys
from pathlib import Path

_RUNTIME = str(Path(__file__).resolve().parent.parent / "runtime")
if _RUNTIME not in sys.path:
    sys.path.append(_RUNTIME)
