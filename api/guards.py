"""ASGI guards that run before routing: over-long URLs and non-finite numbers in JSON bodies.

* :class:`UrlLengthGuard` — a request line whose path and query exceed
  ``FLEXLEDGER_MAX_URL_BYTES`` gets 414 ``URI_TOO_LONG`` as JSON, like every other error.
  (Longer request lines than the server's parser takes get the same JSON from the server
  itself: :mod:`infra.http_server`.)
* :class:`NonFiniteJsonGuard` — a body holding ``NaN``, ``Infinity``, a number that
  overflows a double (``1e309``), an integer beyond 64 bits or a NUL character (PostgreSQL
  cannot store it) gets 422 ``INVALID_VALUE`` naming the field (v2.0 paths: 400
  with FlexMeasures' ``result: Rejected``), before any route parses it
  (:func:`api.validation.non_finite_path`).
"""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response
from api.myems import PREFIX as MYEMS_PREFIX
from api.myems import myems_error
from api.validation import REFUSED, non_finite_path

V2_PREFIX = "/api/v2_0/"
BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class UrlLengthGuard:
    """414 ``URI_TOO_LONG`` (JSON) when the path plus query string exceed ``max_bytes``; 400
    ``INVALID_VALUE`` for a NUL character in the URL (no store can hold it)."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            length = len(scope.get("raw_path") or scope["path"].encode()) + len(scope.get("query_string", b""))
            if length > self.max_bytes:
                message = f"the URL is {length} bytes long; at most {self.max_bytes} are accepted"
                return await _url_error(scope, 414, "URI_TOO_LONG", message)(scope, receive, send)
            if "\x00" in scope["path"] or b"%00" in scope.get("query_string", b""):
                message = "the URL holds a NUL character (%00)"
                return await _url_error(scope, 400, "INVALID_VALUE", message)(scope, receive, send)
        await self.app(scope, receive, send)


class NonFiniteJsonGuard:
    """Refuses request bodies holding non-finite numbers (see the module docstring)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            return await self.app(scope, receive, send)
        messages: list[Message] = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        path = non_finite_path(b"".join(m.get("body", b"") for m in messages))
        if path is not None:
            return await _refuse(scope, path)(scope, receive, send)

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


def _url_error(scope: Scope, status: int, code: str, message: str):
    """The URL's error in the shape of the API it was sent to (MyEMS' under ``/myems``)."""
    if scope["path"].startswith(MYEMS_PREFIX + "/"):
        return myems_error(status, f"API.{code}", message, "url")
    return error_response(status, code, message, "url")


def _refuse(scope: Scope, field: str):
    message = f"{field}: {REFUSED}"
    if scope["path"].startswith(V2_PREFIX):
        body = {"result": "Rejected", "status": "INVALID_VALUE", "message": message, "field": field}
        return JSONResponse(body, status_code=400)
    if scope["path"].startswith(MYEMS_PREFIX + "/"):  # MyEMS' error shape (and its 400 for bad input)
        return myems_error(400, "API.INVALID_VALUE", message, field)
    return error_response(422, "INVALID_VALUE", message, field)
