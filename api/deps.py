"""FastAPI dependencies (``Annotated`` aliases): the platform, a read connection, the user."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, Request, Security
from starlette.concurrency import run_in_threadpool

from api.auth import CurrentUser, TokenService
from api.authorization import AUTH_HEADER, require_account_access
from api.errors import ApiError
from commands.context import CommandContext
from infra.bootstrap import Platform
from projections import registry_query as rq

# Cheap dependencies are ``async``, so FastAPI calls them on the event loop instead of hopping
# to its thread pool once each; blocking ones (a read connection, a user look-up when the
# token's user is not cached) run in the thread pool.


async def get_platform(request: Request) -> Platform:
    return request.app.state.platform


async def get_tokens(request: Request) -> TokenService:
    return request.app.state.tokens


def get_read_connection(platform: Annotated[Platform, Depends(get_platform)]) -> Iterator[sa.Connection]:
    """A pooled read connection, checked out in a worker thread (a full pool blocks; the loop must not)."""
    with platform.read_models.read_engine.connect() as conn:
        yield conn


PlatformDep = Annotated[Platform, Depends(get_platform)]
ReadConn = Annotated[sa.Connection, Depends(get_read_connection)]


async def get_user_dependency(
    platform: PlatformDep,
    tokens: Annotated[TokenService, Depends(get_tokens)],
    authorization: Annotated[str | None, Security(AUTH_HEADER)] = None,
) -> CurrentUser:
    """The user of the ``Authorization`` token: from the token cache, else looked up in a worker thread."""
    cached = tokens.users.get(authorization) if authorization else None
    if cached is not None:
        return cached
    return await run_in_threadpool(get_current_user, platform, tokens, authorization)


def get_current_user(platform: Platform, tokens: TokenService, authorization: str | None) -> CurrentUser:
    """The user of a valid token (401 otherwise); remembered briefly in ``tokens.users``."""
    if not authorization:
        raise ApiError(401, "UNAUTHORIZED", "missing Authorization header with an auth token", "Authorization")
    cached = tokens.users.get(authorization)
    if cached is not None:
        return cached
    user_id, expires_in_s = tokens.verify(authorization)
    with platform.read_models.read_engine.connect() as conn:
        row = rq.user_by_id(conn, user_id)
    if row is None or not row["active"]:
        raise ApiError(401, "UNAUTHORIZED", "the user of this token no longer exists or is inactive")
    user = CurrentUser(row["id"], row["account_id"], row["email"], tuple(row["roles"]))
    tokens.users.put(authorization, user, expires_in_s)
    return user


User = Annotated[CurrentUser, Depends(get_user_dependency)]


async def get_commands(platform: PlatformDep, user: User, request: Request) -> CommandContext:
    """A command context whose events carry the user as actor and the request's trace."""
    return platform.commands.with_actor(
        user.actor(),
        correlation_id=request.headers.get("X-Request-ID"),
        traceparent=getattr(request.state, "traceparent", None) or request.headers.get("traceparent"),
    )


Commands = Annotated[CommandContext, Depends(get_commands)]


def visible_sensor(conn: sa.Connection, user: CurrentUser, sensor_id: int, write: bool = False) -> dict:
    """The sensor row if it exists (404) and the user may access it (403)."""
    sensor = rq.sensor_by_id(conn, sensor_id)
    if sensor is None:
        raise ApiError(404, "UNRECOGNIZED_SENSOR", f"no sensor with id {sensor_id}", "id")
    require_account_access(user, sensor["account_id"], write)
    return sensor


def visible_asset(conn: sa.Connection, user: CurrentUser, asset_id: int, write: bool = False) -> dict:
    asset = rq.asset_by_id(conn, asset_id)
    if asset is None:
        raise ApiError(404, "UNRECOGNIZED_ASSET", f"no asset with id {asset_id}", "id")
    require_account_access(user, asset["account_id"], write)
    return asset
