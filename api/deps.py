"""FastAPI dependencies (``Annotated`` aliases): the platform, a read connection, the user."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, Header, Request

from api.auth import CurrentUser, TokenService
from api.errors import ApiError
from commands.context import CommandContext
from infra.bootstrap import Platform
from projections import registry_query as rq


def get_platform(request: Request) -> Platform:
    return request.app.state.platform


def get_tokens(request: Request) -> TokenService:
    return request.app.state.tokens


def get_read_connection(platform: Annotated[Platform, Depends(get_platform)]) -> Iterator[sa.Connection]:
    with platform.read_models.read_engine.connect() as conn:
        yield conn


PlatformDep = Annotated[Platform, Depends(get_platform)]
ReadConn = Annotated[sa.Connection, Depends(get_read_connection)]


def get_current_user(
    platform: PlatformDep,
    tokens: Annotated[TokenService, Depends(get_tokens)],
    authorization: Annotated[str | None, Header()] = None,
) -> CurrentUser:
    if not authorization:
        raise ApiError(401, "UNAUTHORIZED", "missing Authorization header with an auth token", "Authorization")
    user_id = tokens.user_id(authorization)
    with platform.read_models.read_engine.connect() as conn:
        row = rq.user_by_id(conn, user_id)
    if row is None or not row["active"]:
        raise ApiError(401, "UNAUTHORIZED", "the user of this token no longer exists or is inactive")
    return CurrentUser(row["id"], row["account_id"], row["email"], tuple(row["roles"]))


User = Annotated[CurrentUser, Depends(get_current_user)]


def get_commands(platform: PlatformDep, user: User, request: Request) -> CommandContext:
    """A command context whose events carry the user as actor and the request's trace."""
    return platform.commands.with_actor(
        user.actor(),
        correlation_id=request.headers.get("X-Request-ID"),
        traceparent=getattr(request.state, "traceparent", None) or request.headers.get("traceparent"),
    )


Commands = Annotated[CommandContext, Depends(get_commands)]


def require_account_access(user: CurrentUser, account_id: int, write: bool = False) -> None:
    """403 unless the user belongs to the account, is admin, or (read only) an auditor."""
    if user.is_admin or user.account_id == account_id:
        return
    if not write and user.can_read_all:
        return
    raise ApiError(403, "INVALID_SENDER", "this resource belongs to another account")


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
