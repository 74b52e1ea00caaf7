"""The HTTP server of ``flexledger serve``: uvicorn, with JSON errors from its HTTP parser too.

uvicorn answers a request its parser refuses (a request line or headers over the parser's
limit, about 64 KiB for httptools; malformed requests) with a plain-text 400 before the app
sees it. :class:`JsonErrorHttpToolsProtocol` answers those like every other error of the API:
JSON ``{"status": ..., "message": ..., "field": ...}`` — 414 ``URI_TOO_LONG`` when the URL read
so far is over ``FLEXLEDGER_MAX_URL_BYTES``, else 400 ``INVALID_HTTP_REQUEST``. Shorter
over-long URLs reach the app and get the same 414 from :class:`api.guards.UrlLengthGuard`.
"""

from __future__ import annotations

import json

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from infra.heap import freeze_start_up_heap
from infra.settings import Settings


def json_error(status: int, reason: str, code: str, message: str, field: str) -> bytes:
    """A complete HTTP/1.1 error response with a JSON body; the connection closes after it."""
    body = json.dumps({"status": code, "message": message, "field": field}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class JsonErrorHttpToolsProtocol(HttpToolsProtocol):
    """httptools' protocol whose parser errors are JSON (see the module docstring)."""

    max_url_bytes = Settings.model_fields["max_url_bytes"].default

    def send_400_response(self, msg: str) -> None:
        url_bytes = len(getattr(self, "url", b"") or b"")
        if url_bytes > self.max_url_bytes:
            message = f"the URL is over {self.max_url_bytes} bytes long"
            response = json_error(414, "URI Too Long", "URI_TOO_LONG", message, "url")
        else:
            message = f"{msg} (malformed request, or request line and headers too long)"
            response = json_error(400, "Bad Request", "INVALID_HTTP_REQUEST", message, "request")
        self.transport.write(response)
        self.transport.close()


def protocol_for(settings: Settings) -> type[JsonErrorHttpToolsProtocol]:
    """The protocol class with the settings' URL limit."""
    return type("FlexledgerHttpProtocol", (JsonErrorHttpToolsProtocol,), {"max_url_bytes": settings.max_url_bytes})


def server_config(app, host: str, port: int, settings: Settings, **options) -> uvicorn.Config:
    """uvicorn's configuration for the API (JSON parser errors, see the module docstring)."""
    return uvicorn.Config(app, host=host, port=port, http=protocol_for(settings), **options)


def serve(app, host: str, port: int, settings: Settings, log_level: str = "warning") -> None:
    """Serve ``app`` until interrupted (this process's start-up heap frozen first: :mod:`infra.heap`)."""
    freeze_start_up_heap()
    uvicorn.Server(server_config(app, host, port, settings, log_level=log_level)).run()
