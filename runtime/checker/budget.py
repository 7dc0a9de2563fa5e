"""The checker's time budget: how often a DynamoDB request may be tried within one run.

A run makes up to ``CALLS`` DynamoDB requests one after another (the read, a half-open trial's
write, the outcome's write) around one probe of up to ``probe.timeout_s``. Lambda kills a run at
its timeout without a log line or a metric, so the SDK's retries are bounded from the time the
run has left (``context.get_remaining_time_in_millis()``): every request, retried as often as
allowed, plus the probe and the final log line, must fit. ``MIN_ROOM_S`` is what a run needs
beside its probe with a single attempt per request; the Pulumi config refuses a probe timeout
that leaves less (infra/config.py).

A write that loses a race is retried by the store with the record DynamoDB returned; those
retries answer at once, so they are not budgeted as timeouts.
"""

from __future__ import annotations

from typing import Any, Optional

CONNECT_TIMEOUT_S = 0.5
READ_TIMEOUT_S = 1.0
CALLS = 3
MAX_ATTEMPTS = 3
LOG_RESERVE_S = 0.5  # left after the last request for the log line and the return
# botocore's standard retry mode waits up to base * 2 ** (attempt - 1) before the next attempt;
# the base is 1 s for throttling, the worst case.
THROTTLING_BACKOFF_BASE_S = 1.0


def request_worst_s(attempts: int) -> float:
    """The longest one request can take with ``attempts`` attempts, backoff included."""
    backoff = sum(THROTTLING_BACKOFF_BASE_S * 2 ** (attempt - 1) for attempt in range(1, attempts))
    return attempts * (CONNECT_TIMEOUT_S + READ_TIMEOUT_S) + backoff


MIN_ROOM_S = CALLS * request_worst_s(1) + LOG_RESERVE_S


def remaining_ms(context: Any) -> Optional[int]:
    """What Lambda says is left of the run, or None without a Lambda context."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return remaining() if callable(remaining) else None


def dynamodb_attempts(remaining: Optional[int], probe_timeout_s: float) -> int:
    """The most attempts per request (at most ``MAX_ATTEMPTS``, at least 1) such that ``CALLS``
    requests, the probe and the log line fit in ``remaining`` milliseconds."""
    if remaining is None:
        return MAX_ATTEMPTS
    room_s = remaining / 1000 - probe_timeout_s - LOG_RESERVE_S
    fitting = [n for n in range(1, MAX_ATTEMPTS + 1) if CALLS * request_worst_s(n) <= room_s]
    return max(fitting, default=1)


def client_config(attempts: int) -> Any:
    """The DynamoDB client's config for ``attempts`` attempts per request."""
    from botocore.config import Config

    # total_max_attempts counts the first attempt; botocore's max_attempts counts retries only.
    return Config(connect_timeout=CONNECT_TIMEOUT_S, read_timeout=READ_TIMEOUT_S,
                  retries={"mode": "standard", "total_max_attempts": attempts})
