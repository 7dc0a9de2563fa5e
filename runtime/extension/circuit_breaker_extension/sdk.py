"""boto3, found where the Lambda runtime keeps it, and the circuit store built on it.

The layer does not bundle boto3 (the seed's layer did, and weighed about 19 MB zipped): the
extension runs on the function runtime's own interpreter and uses the runtime's SDK. Where
that SDK is not on the interpreter's path, its known locations are added before giving up.
This module is imported only after the extension has registered, so importing boto3 (the
slowest part of the extension's start) overlaps the runtime's own initialisation instead of
delaying registration.
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # breaker.store imports boto3, which may only be found by import_boto3()
    from breaker.store import CircuitStore

# The function waits on the extension while it reads or writes, so a slow DynamoDB call must
# fail fast, well inside the client's 2 s timeout: the cache then serves the last known state
# (retried a second later) and a report goes to the pending queue (retried on the next INVOKE).
# No SDK retry: its back-off alone (up to a second) would exceed that budget.
CONNECT_TIMEOUT_S = 0.25
READ_TIMEOUT_S = 0.5
TOTAL_MAX_ATTEMPTS = 1
# Conditional writes tried per report before it is queued instead: with the store's jittered
# back-off that stays near 100 ms even when every environment writes the same circuit at once.
WRITE_ATTEMPTS = 4
# Errors no retry can fix: a write refused with one of these is dropped (and logged), not queued.
PERMANENT_ERRORS = frozenset({"AccessDeniedException", "ValidationException", "ResourceNotFoundException"})


class SdkUnavailable(RuntimeError):
    """boto3 cannot be imported by this interpreter, even from the runtime's SDK locations."""


@dataclass(frozen=True)
class Sdk:
    store: CircuitStore
    # What a store call raises when the table cannot be reached or keeps conflicting: the
    # service keeps the report for later instead of answering with an error.
    unavailable: tuple[type[BaseException], ...]

    @staticmethod
    def permanent(failure: BaseException) -> bool:
        """Whether a store error is one that retrying cannot fix: an item this code cannot read,
        or a refusal in PERMANENT_ERRORS."""
        from breaker.item import UnreadableItem

        if isinstance(failure, UnreadableItem):
            return True
        response = getattr(failure, "response", None)
        return isinstance(response, dict) and response.get("Error", {}).get("Code") in PERMANENT_ERRORS


def runtime_sdk_paths() -> list[str]:
    """Where Lambda's Python runtimes keep their own boto3."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    return ["/var/runtime", f"/var/lang/lib/{version}/site-packages"]


def import_boto3() -> ModuleType:
    try:
        return importlib.import_module("boto3")
    except ImportError:
        pass
    candidates = runtime_sdk_paths()
    sys.path.extend(path for path in candidates if os.path.isdir(path) and path not in sys.path)
    importlib.invalidate_caches()
    try:
        return importlib.import_module("boto3")
    except ImportError as error:
        raise SdkUnavailable(
            f"boto3 cannot be imported by {sys.executable} ({error}); also looked in {', '.join(candidates)}. "
            "The circuit-breaker layer does not bundle boto3: use a Lambda Python runtime that includes it, "
            "or add it with another layer."
        ) from None


def connect(table: str) -> Sdk:
    """A store for ``table`` on a DynamoDB client with short timeouts.

    boto3 finds the region, the credentials and any ``AWS_ENDPOINT_URL_DYNAMODB`` override in
    the environment, which is how the local stack and the tests point it at moto.
    """
    boto3 = import_boto3()
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    from breaker.store import CircuitStore, ConflictError

    client = boto3.client(
        "dynamodb",
        config=Config(
            connect_timeout=CONNECT_TIMEOUT_S,
            read_timeout=READ_TIMEOUT_S,
            retries={"mode": "standard", "total_max_attempts": TOTAL_MAX_ATTEMPTS},
        ),
    )
    from breaker.item import UnreadableItem

    unavailable = (BotoCoreError, ClientError, ConflictError, UnreadableItem)
    return Sdk(CircuitStore(client, table, max_attempts=WRITE_ATTEMPTS), unavailable)
