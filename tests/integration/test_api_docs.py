"""The API docs tell the truth: every operation of ``app.openapi()`` has a user-facing description.

The schema is walked as ``/docs`` and ``/redoc`` render it (a route added later is covered without
touching this test). An operation needs a ``summary`` (FastAPI derives one from the function name)
and a non-empty ``description`` (the route's docstring or ``description=``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from api.app import ROUTERS, create_app
from api.routers import dashboard
from infra.bootstrap import build_platform
from infra.settings import Settings


@pytest.fixture(scope="module")
def app_and_spec(tmp_path_factory) -> Iterator[tuple]:
    platform = build_platform(Settings(home=Path(tmp_path_factory.mktemp("docs")), bcrypt_rounds=4))
    try:
        app = create_app(platform)
        yield app, app.openapi()
    finally:
        platform.close()


def _modules(app) -> dict[tuple[str, str], str]:
    """(method, path) -> the module of the route's endpoint, from the routers the app includes."""
    routers = [*ROUTERS, dashboard.router]
    return {
        (method.lower(), route.path): route.endpoint.__module__
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute) and route.include_in_schema
        for method in route.methods
    }


def _operations(spec: dict) -> list[tuple[str, str, dict]]:
    return [(method, path, op) for path, ops in spec["paths"].items() for method, op in ops.items()]


def test_every_operation_has_a_summary_and_a_description(app_and_spec) -> None:
    app, spec = app_and_spec
    modules = _modules(app)
    operations = _operations(spec)
    assert len(operations) > 150  # the whole API is walked
    missing = []
    for method, path, op in operations:
        module = modules.get((method, path), "?")
        assert (op.get("summary") or "").strip(), f"{method.upper()} {path} has no summary"
        if not (op.get("description") or "").strip():
            missing.append(f"{method.upper()} {path} ({module})")
    assert not missing, "operations without a description:\n" + "\n".join(missing)


def test_the_docs_declare_the_authorization_header_and_describe_the_api(app_and_spec) -> None:
    _, spec = app_and_spec
    schemes = spec["components"]["securitySchemes"]
    assert any(s.get("type") == "apiKey" and s.get("name") == "Authorization" for s in schemes.values())
    assert "POST /api/requestAuthToken" in spec["info"]["description"]  # for users, not an internal docstring


def test_the_dashboard_and_the_docs_may_load_only_from_this_server(app_and_spec) -> None:
    app, _ = app_and_spec
    client = TestClient(app)  # no lifespan needed: static pages
    for path in ("/", "/docs", "/redoc"):
        response = client.get(path)
        assert response.status_code == 200, path
        policy = response.headers["content-security-policy"]
        for directive in ("default-src 'self'", "connect-src 'self'", "img-src 'self' data: blob:"):
            assert directive in policy, (path, policy)
        assert "https:" not in policy and "*" not in policy, policy
    assert "content-security-policy" not in client.get("/api/").headers  # the JSON API is not a page
