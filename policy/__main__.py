"""The pack as Pulumi runs it (``pulumi preview --policy-pack policy``).

Constructing the ``PolicyPack`` starts the analyzer's gRPC server and blocks, so nothing may
import this file; the policies live in ``circuit_breaker_policies`` where tests import them.
"""

import sys
from pathlib import Path

# Pulumi runs this file from the pack's folder; putting that folder first on the path makes
# the sibling import work whatever the working directory and however the file is launched.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from circuit_breaker_policies import PACK_NAME, POLICIES  # noqa: E402

PolicyPack(name=PACK_NAME, policies=POLICIES, enforcement_level=EnforcementLevel.MANDATORY)
