"""The local stack: a stack file's whole fleet on one machine, without AWS, Pulumi or Docker.

``python -m local_stack`` (``make demo``) runs the stack's services with the real code: the
extension and the functions in local Lambda execution environments, DynamoDB and SSM on moto's
server, the mocks behind local HTTP endpoints, the checker on each service's (compressed)
schedule and a traffic driver, then replays a scenario and checks what the circuits did.
docs/local-stack.md describes it.
"""

import sys
from pathlib import Path

# Lambda puts a function's own folder at the top of sys.path, so the runtime code imports its
# packages as top-level names (``breaker``, ``checker``, ``artifacts``); pytest mirrors that with
# ``pythonpath = ["runtime", "."]``. ``python -m local_stack`` gets the same view from here. It
# is appended, not prepended: a mock process started with its built function folder on
# PYTHONPATH must import the mock handler from that folder, not from runtime/.
_RUNTIME = str(Path(__file__).resolve().parent.parent / "runtime")
if _RUNTIME not in sys.path:
    sys.path.append(_RUNTIME)
