"""One log line per request: method, path, status and duration (no query string, no headers, so
no tokens), on the ``flexledger.http`` logger at INFO (``FLEXLEDGER_LOG_LEVEL`` sets the level)."""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("flexledger.http")


class RequestLog:
    """ASGI middleware: logs ``METHOD /path STATUS 12.3ms`` when a response has been sent."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not logger.isEnabledFor(logging.INFO):
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = 500

        async def send_and_remember(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_remember)
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            logger.info("%s %s %d %.1fms", scope["method"], scope["path"], status, elapsed_ms)
