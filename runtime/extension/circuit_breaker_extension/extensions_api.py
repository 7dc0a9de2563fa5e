"""A client for the Lambda Extensions API (``/2020-01-01/extension/...``).

The API lives at ``$AWS_LAMBDA_RUNTIME_API``. ``event/next`` blocks until Lambda has an event
for the extension, for as long as the environment lives (frozen in between), so that call has
no timeout. Used before registering, so only light standard-library modules (see ``endpoint``).
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Sequence

BASE_PATH = "/2020-01-01/extension"
NAME_HEADER = "Lambda-Extension-Name"
IDENTIFIER_HEADER = "Lambda-Extension-Identifier"
ERROR_TYPE_HEADER = "Lambda-Extension-Function-Error-Type"


class ExtensionsApiError(RuntimeError):
    """The Extensions API refused a call or could not be reached."""


class ExtensionsApi:
    def __init__(self, address: str) -> None:
        self._address = address  # host:port, as in AWS_LAMBDA_RUNTIME_API
        self.identifier: str | None = None

    def register(self, name: str, events: Sequence[str]) -> str:
        """Register for ``events``; returns (and keeps) the extension identifier."""
        response = self._call("POST", "/register", {"events": list(events)}, {NAME_HEADER: name})
        identifier = response.header(IDENTIFIER_HEADER)
        if not identifier:
            raise ExtensionsApiError(f"register answered without a {IDENTIFIER_HEADER} header")
        self.identifier = identifier
        return identifier

    def next_event(self) -> dict[str, object]:
        """Block until the next event (INVOKE or SHUTDOWN) and return it."""
        response = self._call("GET", "/event/next", None, self._identified())
        try:
            event = json.loads(response.body)
        except ValueError as error:
            raise ExtensionsApiError(f"event/next answered with invalid JSON: {error}") from None
        if not isinstance(event, dict) or "eventType" not in event:
            raise ExtensionsApiError(f"event/next answered without an eventType: {event!r}")
        return event

    def init_error(self, error_type: str, message: str) -> None:
        """Report a failed initialisation; Lambda then fails the init phase."""
        self._report("/init/error", error_type, message)

    def exit_error(self, error_type: str, message: str) -> None:
        """Report an error that makes the extension exit after it initialised."""
        self._report("/exit/error", error_type, message)

    def _report(self, path: str, error_type: str, message: str) -> None:
        body = {"errorMessage": message, "errorType": error_type, "stackTrace": []}
        self._call("POST", path, body, {**self._identified(), ERROR_TYPE_HEADER: error_type})

    def _identified(self) -> dict[str, str]:
        if self.identifier is None:
            raise ExtensionsApiError("not registered")
        return {IDENTIFIER_HEADER: self.identifier}

    def _call(self, method: str, path: str, body: object, headers: dict[str, str]) -> _Response:
        connection = http.client.HTTPConnection(self._address, timeout=None)
        try:
            payload = None if body is None else json.dumps(body).encode()
            if payload is not None:
                headers = {**headers, "Content-Type": "application/json"}
            connection.request(method, BASE_PATH + path, body=payload, headers=headers)
            raw = connection.getresponse()
            response = _Response(raw.status, raw.getheaders(), raw.read())
        except (OSError, http.client.HTTPException) as error:
            raise ExtensionsApiError(f"{method} {path}: {error!r}") from None
        finally:
            connection.close()
        if not 200 <= response.status < 300:
            raise ExtensionsApiError(f"{method} {path}: HTTP {response.status} {response.body[:500]!r}")
        return response


class _Response:
    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.body = body
        self._headers = {name.lower(): value for name, value in headers}

    def header(self, name: str) -> str | None:
        return self._headers.get(name.lower())
