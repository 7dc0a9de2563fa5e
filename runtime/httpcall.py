"""One HTTP GET to a protected service over a real socket, and its verdict as the breaker counts it.

Shared by the checker's probe and the business function's call (both zips ship this module),
so the two can never disagree on what a failure is. A call succeeds only on a 2xx answer that
arrived within the timeout. Every other status (the seed sample counted HTTP 500 as healthy:
never), a timeout, a refused connection and a failed DNS lookup are failures, each with a short
error string for the log and the record. Redirects are not followed: the URL is the full URL of
the health check or resource, so a 3xx is a misconfiguration, and following it could report a
login page's 200 as health.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from http.client import HTTPException
from typing import Callable, Optional
from urllib.error import HTTPError, URLError
from urllib.request import HTTPRedirectHandler, Request, build_opener

MAX_BODY_BYTES = 256 * 1024  # read at most this much: latency covers the answer, not a stream


@dataclass(frozen=True)
class CallResult:
    status: Optional[int]  # the HTTP status; None when no answer came back
    latency_ms: float
    error: Optional[str]  # why the call failed; None when it succeeded
    body: bytes = b""  # the answer's first MAX_BODY_BYTES

    @property
    def ok(self) -> bool:
        return self.error is None


class _NoRedirect(HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # urllib then raises HTTPError carrying the 3xx status


_opener = build_opener(_NoRedirect)


def get(url: str, timeout_s: float, caller: str, timer: Callable[[], float] = time.perf_counter) -> CallResult:
    """GET ``url`` once with ``timeout_s`` and classify what came back; ``caller`` names the
    User-Agent (``circuit-breaker-<caller>``) so the service's logs tell probes from traffic."""
    request = Request(url, method="GET", headers={"User-Agent": f"circuit-breaker-{caller}"})
    status: Optional[int] = None
    failure: Optional[str] = None
    body = b""
    started = timer()
    try:
        with _opener.open(request, timeout=timeout_s) as response:
            status = response.status
            body = response.read(MAX_BODY_BYTES)
    except HTTPError as answer:  # a non-2xx answer: still an answer, with a status
        status = answer.code
        answer.close()
    except (OSError, HTTPException) as error:  # URLError, timeouts and resets are all OSError
        failure = describe_failure(error, timeout_s)
    latency_ms = (timer() - started) * 1000
    return CallResult(status, latency_ms, failure or judge(status, latency_ms, timeout_s), body)


def judge(status: Optional[int], latency_ms: float, timeout_s: float) -> Optional[str]:
    """The error for an answer that came back, or None when it counts as a success."""
    if status is None or not 200 <= status < 300:
        return f"HTTP {status}"
    if latency_ms > timeout_s * 1000:  # the socket timeout bounds each read, not the whole answer
        return f"answered after the {timeout_s:g} s timeout"
    return None


def describe_failure(error: BaseException, timeout_s: float) -> str:
    """A short, stable error string for a call that got no answer."""
    reason = error.reason if isinstance(error, URLError) else error
    if isinstance(reason, TimeoutError):
        return f"timeout after {timeout_s:g} s"
    if isinstance(reason, socket.gaierror):
        return f"DNS lookup failed: {reason.strerror}"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    text = f"{type(reason).__name__}: {reason}" if isinstance(reason, BaseException) else str(reason)
    return text[:200]
