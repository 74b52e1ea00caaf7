"""The web dashboard, served at ``/``: one page, its own scripts, and the chart library.

Pages and assets (no CDN: everything is served by this process):

* ``GET /`` — the dashboard page (``api/static/dashboard/index.html``).
* ``GET /static/dashboard/...`` — its scripts and styles (written for this project).
* ``GET /vendor/plotly.min.js`` — Plotly's browser bundle, taken from the installed ``plotly``
  wheel (a PyPI dependency), so no third-party code lives in this repository.

Session endpoints (see :mod:`api.session` for the cookie and CSRF rules):

* ``POST /dashboard/login`` — e-mail and password (as ``requestAuthToken``); sets the session
  cookie and returns the CSRF token for writes.
* ``GET /dashboard/session`` — who is logged in, and the CSRF token (401 without a session).
* ``POST /dashboard/logout`` — clears the cookie.

The page itself only calls the public API (``/api/v3_0/...``, ``/api/v1/...``) with the session
cookie, and subscribes to ``GET /api/v3_0/streams/events`` (Server-Sent Events) for live updates.

The dashboard and the API docs (``/docs``, ``/redoc``) are sent with a Content-Security-Policy that
lets them load only from this server (:data:`OFFLINE_PAGE_POLICY`): ReDoc's bundle, for one,
refers to a logo on a CDN, which the browser then never fetches.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import Services, User, get_current_user
from api.login import password_login
from api.routers.public import TokenRequest
from api.session import SESSION_COOKIE, SessionCookieAuth, csrf_token, session_token_of

STATIC_DIR = Path(__file__).resolve().parent.parent / "static" / "dashboard"
PLOTLY_JS = Path(str(files("plotly") / "package_data" / "plotly.min.js"))

router = APIRouter(tags=["dashboard"])
OFFLINE_PAGES = frozenset({"/", "/docs", "/redoc"})
OFFLINE_PAGE_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
"""Only this origin; inline scripts and eval for Swagger UI's set-up and Plotly's WebGL code generation."""


class SessionOut(BaseModel):
    """The logged-in user and the CSRF token to send as ``X-CSRF-Token`` on writes."""

    user_id: int
    account_id: int
    email: str
    roles: list[str]
    csrf_token: str


@router.get("/", include_in_schema=False)
def dashboard_page() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html")


@router.get("/vendor/plotly.min.js", include_in_schema=False)
def plotly_bundle() -> FileResponse:
    return FileResponse(PLOTLY_JS, media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})


@router.post("/dashboard/login", response_model=SessionOut)
def login(body: TokenRequest, request: Request, services: Services) -> JSONResponse:
    """Log in with e-mail and password: sets the HttpOnly session cookie (401 on a wrong password)."""
    tokens = services.tokens
    token = password_login(services, tokens, body.email, body.password).token
    user = get_current_user(services, token)
    response = JSONResponse(_session_json(request, user, token))
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=tokens.max_age_s,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.get("/dashboard/session", response_model=SessionOut)
def session(request: Request, user: User) -> dict:
    """The session's user and CSRF token (401 when not logged in or the session expired)."""
    token = session_token_of(dict(request.scope["headers"])) or request.headers.get("authorization", "")
    return _session_json(request, user, token)


@router.post("/dashboard/logout", status_code=204)
def logout() -> Response:
    """Forget the session cookie in this browser."""
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _session_json(request: Request, user, token: str) -> dict:
    return {
        "user_id": user.id,
        "account_id": user.account_id,
        "email": user.email,
        "roles": list(user.roles),
        "csrf_token": csrf_token(request.app.state.csrf_secret, token),
    }


def install_dashboard(app: FastAPI, secret: str) -> None:
    """Mount the dashboard's routes, static assets and the session-cookie middleware on ``app``."""
    app.state.csrf_secret = secret
    app.include_router(router)
    app.mount("/static/dashboard", StaticFiles(directory=STATIC_DIR), name="dashboard-static")
    app.add_middleware(SessionCookieAuth, secret=secret)
    app.add_middleware(OfflinePagePolicy)


class OfflinePagePolicy:
    """ASGI middleware: the Content-Security-Policy header on the dashboard and docs pages."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in OFFLINE_PAGES:
            return await self.app(scope, receive, send)

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((b"content-security-policy", OFFLINE_PAGE_POLICY.encode()))
            await send(message)

        await self.app(scope, receive, send_with_policy)
