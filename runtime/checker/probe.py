"""One HTTP probe of a service's health URL over a real socket, and its verdict.

A probe succeeds only on a 2xx answer that arrived within the timeout. Every other status
(the seed sample counted HTTP 500 as healthy: never), a timeout, a refused connection and a
failed DNS lookup are failures, each with a short error string for the log and the record.
Redirects are not followed: the probe URL is the full health URL, so a 3xx is a
misconfiguration, and following it could report a login page's 200 as health.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from http.client import HTTPException
from typing import Callable, Optional
from urllib.error import HTTPError, URLError
from urllib.request import HTTPRedirectHandler, Request, build_opener

MAX_BODY_BYTES = 64 * 1024  # read (and drop) at most this much: latency covers the answer, not a stream


@dataclass(frozen=True)
class ProbeResult:
    status: Optional[int]  # the HTTP status; None when no answer came back
    latency_ms: float
    error: Optional[str]  # why the probe failed; None when it succeeded

    @property
    def ok(self) -> bool:
        return self.error is None


class _NoRedirect(HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # urllib then raises HTTPError carrying the 3xx status


_opener = build_opener(_NoRedirect)


def probe(url: str, timeout_s: float, timer: Callable[[], float] = time.perf_counter) -> ProbeResult:
    """GET ``url`` once with ``timeout_s`` and classify what came back."""
    request = Request(url, method="GET", headers={"User-Agent": "circuit-breaker-checker"})
    status: Optional[int] = None
    failure: Optional[str] = None
    started = timer()
    try:
        with _opener.open(request, timeout=timeout_s) as response:
            status = response.status
            response.read(MAX_BODY_BYTES)
    except HTTPError as answer:  # a non-2xx answer: still an answer, with a status
        status = answer.code
        answer.close()
    except (OSError, HTTPException) as error:  # URLError, timeouts and resets are all OSError
        failure = describe_failure(error, timeout_s)
    latency_ms = (timer() - started) * 1000
    return ProbeResult(status, latency_ms, failure or judge(status, latency_ms, timeout_s))


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
