"""Browser sessions for the dashboard: an HttpOnly cookie that carries an auth token, with CSRF.

The dashboard logs in at ``POST /dashboard/login``; the answer sets ``flexledger_session``, a
cookie holding an ordinary auth token (the same signed, expiring token ``requestAuthToken``
returns), marked ``HttpOnly``, ``SameSite=Strict``, ``Path=/`` and ``Max-Age`` = the token's
maximum age (``Secure`` when served over HTTPS). Page scripts never see the token.

:class:`SessionCookieAuth` turns that cookie into the ``Authorization`` header for requests
that carry no header of their own, so every API route accepts a browser session without
knowing about it. A write made with the cookie (any method but GET, HEAD and OPTIONS) must
also send ``X-CSRF-Token``: an HMAC-SHA256 of the session token under the platform's secret,
which the page obtains from ``GET /dashboard/session`` (same-origin only: another site's page
cannot read it). A missing or wrong CSRF token is ``403 CSRF_FAILED``; the route never runs.
Requests that send their own ``Authorization`` header (API clients) are left untouched.
"""

from __future__ import annotations

import hashlib
import hmac
from http.cookies import SimpleCookie

from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import error_response

SESSION_COOKIE = "flexledger_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def csrf_token(secret: str, session_token: str) -> str:
    """The CSRF token bound to one session token (hex HMAC-SHA256 under the platform's secret)."""
    return hmac.new(secret.encode(), f"csrf:{session_token}".encode(), hashlib.sha256).hexdigest()


def session_token_of(headers: dict[bytes, bytes]) -> str | None:
    """The session token in a request's ``Cookie`` header, ``None`` when absent."""
    raw = headers.get(b"cookie")
    if not raw:
        return None
    cookie = SimpleCookie()
    try:
        cookie.load(raw.decode("latin-1"))
    except Exception:  # a malformed Cookie header is no session
        return None
    morsel = cookie.get(SESSION_COOKIE)
    return morsel.value if morsel and morsel.value else None


class SessionCookieAuth:
    """ASGI middleware: session cookie -> ``Authorization`` header, with CSRF checks on writes."""

    def __init__(self, app: ASGIApp, secret: str):
        self.app, self.secret = app, secret

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        token = None if b"authorization" in headers else session_token_of(headers)
        if token is None:
            return await self.app(scope, receive, send)
        if scope["method"] not in SAFE_METHODS and not self._csrf_ok(headers, token):
            response = error_response(
                403, "CSRF_FAILED", "a write with a session cookie needs a valid X-CSRF-Token header", CSRF_HEADER
            )
            return await response(scope, receive, send)
        scope = {**scope, "headers": [*scope["headers"], (b"authorization", token.encode("latin-1"))]}
        await self.app(scope, receive, send)

    def _csrf_ok(self, headers: dict[bytes, bytes], token: str) -> bool:
        sent = headers.get(CSRF_HEADER.encode(), b"").decode("latin-1")
        return bool(sent) and hmac.compare_digest(sent, csrf_token(self.secret, token))
