"""FastAPI dependencies (``Annotated`` aliases), and the API's one link to the composition root.

Routers get narrow things, not the whole :class:`~infra.bootstrap.Platform` (only the
subscription, audit and webhook routes still take it, through :data:`PlatformDep`):

* :data:`Commands` — the command context of the request (its user as actor, its trace);
  v2.0 routes, which authenticate themselves, build it with :func:`command_context` too.
* :data:`ReadConn` — a pooled read connection to the read models (:func:`read_connection`
  outside dependency injection).
* :data:`Consistency` — read-your-writes (:class:`api.consistency.ReadYourWrites`: the
  deployment's consistency waiter and the store's positions).
* :data:`Audit` — the subscription, history, webhook and personal-data services
  (:class:`api.audit_services.AuditServices`).

:func:`install` is the only place in ``api/`` that reaches the composition root: it takes what
the routers need out of the platform and stores it on the app (``app.state.services``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, FastAPI, Request, Security
from starlette.concurrency import run_in_threadpool

from api.audit_services import AuditServices, StreamLimits, build_audit_services
from api.auth import CurrentUser, TokenService, authenticate
from api.authorization import AUTH_HEADER, require_account_access
from api.consistency import ReadYourWrites
from api.errors import ApiError
from commands.context import CommandContext
from infra.bootstrap import Platform
from projections import registry_query as rq

__all__ = ["Platform", "ApiServices", "install"]

# Cheap dependencies are ``async``, so FastAPI calls them on the event loop instead of hopping
# to its thread pool once each; blocking ones (a read connection, a user look-up when the
# token's user is not cached) run in the thread pool.


@dataclass(frozen=True)
class ProcessorCheckpoint:
    name: str
    checkpoint: int
    projection: str | None
    """The read model's name when the processor is a projection."""


def _processor_checkpoints(platform: Platform) -> list[ProcessorCheckpoint]:
    return [
        ProcessorCheckpoint(p.name, p.checkpoint(), getattr(getattr(p, "projection", None), "name", None))
        for p in platform.processors
    ]


@dataclass(frozen=True)
class ApiServices:
    """Everything the routers use: commands, read connections, read-your-writes, tokens, limits."""

    commands: CommandContext
    read_engine: sa.Engine
    consistency: ReadYourWrites
    tokens: TokenService
    max_body_bytes: int
    max_url_bytes: int
    max_readings_per_request: int
    """Readings one write may create (after upsampling to the sensor's resolution)."""
    max_readings_per_response: int
    processor_checkpoints: Callable[[], list[ProcessorCheckpoint]]
    """Each processor's name, checkpoint and projection (for the admin status)."""

    @contextmanager
    def read_connection(self) -> Iterator[sa.Connection]:
        with self.read_engine.connect() as conn:
            yield conn


def install(app: FastAPI, platform: Platform) -> ApiServices:
    """Store the routers' services, taken from ``platform``, on ``app`` (``app.state.services``)."""
    settings = platform.settings
    services = ApiServices(
        commands=platform.commands,
        read_engine=platform.read_models.read_engine,
        consistency=ReadYourWrites(
            platform.consistency, platform.store, settings.consistent_writes, settings.consistency_timeout_s
        ),
        tokens=TokenService(platform.token_secret, settings.token_max_age_s),
        max_body_bytes=settings.max_body_bytes,
        max_url_bytes=settings.max_url_bytes,
        max_readings_per_request=settings.max_readings_per_request,
        max_readings_per_response=settings.max_readings_per_response,
        processor_checkpoints=lambda: _processor_checkpoints(platform),
    )
    app.state.services = services
    app.state.audit = build_audit_services(
        platform.store,
        StreamLimits(settings.stream_key_max_age_s, settings.stream_max_lag_s, settings.stream_send_timeout_s),
        platform.token_secret,
        platform.audit_signing_key,
        platform.webhooks,
        platform.personal_keys,
        settings.webhook_allow_private,
    )
    app.state.tokens = services.tokens
    return services


async def get_audit(request: Request) -> AuditServices:
    return request.app.state.audit


def services_of(request: Request) -> ApiServices:
    return request.app.state.services


async def get_services(request: Request) -> ApiServices:
    return request.app.state.services


async def get_tokens(request: Request) -> TokenService:
    return request.app.state.services.tokens


async def get_consistency(request: Request) -> ReadYourWrites:
    return request.app.state.services.consistency


def get_read_connection(services: Annotated[ApiServices, Depends(get_services)]) -> Iterator[sa.Connection]:
    """A pooled read connection, checked out in a worker thread (a full pool blocks; the loop must not)."""
    with services.read_engine.connect() as conn:
        yield conn


Services = Annotated[ApiServices, Depends(get_services)]
ReadConn = Annotated[sa.Connection, Depends(get_read_connection)]
Consistency = Annotated[ReadYourWrites, Depends(get_consistency)]
Audit = Annotated[AuditServices, Depends(get_audit)]


async def get_user_dependency(
    services: Services,
    authorization: Annotated[str | None, Security(AUTH_HEADER)] = None,
) -> CurrentUser:
    """The user of the ``Authorization`` token: from the token cache, else looked up in a worker thread."""
    cached = services.tokens.users.get(authorization) if authorization else None
    if cached is not None:
        return cached
    return await run_in_threadpool(get_current_user, services, authorization)


def get_current_user(services: ApiServices, authorization: str | None) -> CurrentUser:
    """The user of a valid token (401 otherwise); remembered briefly in ``tokens.users``."""
    tokens = services.tokens
    if not authorization:
        raise ApiError(401, "UNAUTHORIZED", "missing Authorization header with an auth token", "Authorization")
    cached = tokens.users.get(authorization)
    if cached is not None:
        return cached
    with services.read_connection() as conn:
        user, expires_in_s = authenticate(conn, tokens, authorization)
    tokens.users.put(authorization, user, expires_in_s)
    return user


User = Annotated[CurrentUser, Depends(get_user_dependency)]


def command_context(request: Request, user: CurrentUser) -> CommandContext:
    """The command context of every write path: the user as actor, the request's id and trace parent.

    The trace parent is the server span's (opened by the tracing middleware, continuing the
    client's ``traceparent``), else the client's header.
    """
    return services_of(request).commands.with_actor(
        user.actor(),
        correlation_id=request.headers.get("X-Request-ID"),
        traceparent=getattr(request.state, "traceparent", None) or request.headers.get("traceparent"),
    )


async def get_commands(user: User, request: Request) -> CommandContext:
    """A command context whose events carry the user as actor and the request's trace."""
    return command_context(request, user)


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
