"""The FastAPI application: routers, error handlers, guards, version header.

Security (see README "Security"): every route that needs a user declares the ``AuthToken``
scheme (the ``Authorization`` header); an app-wide dependency refuses writes by auditors
(:mod:`api.authorization`); guards refuse over-long URLs (414), bodies over the size limit
(413) and non-finite numbers (422) before routing (:mod:`api.guards`); every error is JSON.

``create_app(platform)`` takes a built :class:`infra.bootstrap.Platform`; :func:`api.deps.install`
takes out of it what the routers use (routers never see the platform). The app starts the
embedded runner on start-up and stops it on shutdown. OpenAPI docs: ``/docs``.
"""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from opentelemetry.trace import SpanKind
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import tracing
from api.authorization import refuse_auditor_writes
from api.deps import Platform, install
from api.errors import error_response, install_error_handlers
from api.guards import NonFiniteJsonGuard, UrlLengthGuard
from api.myems import MYEMS_ERROR_RESPONSES
from api.myems import PREFIX as MYEMS_PREFIX
from api.request_log import RequestLog
from api.routers import (
    audit_history,
    audit_time_travel,
    dashboard,
    finesce_chargingstates,
    finesce_cos,
    finesce_energies,
    finesce_subresources,
    myems_commands,
    myems_costcenters,  # issue 14
    myems_dashboard,  # issue 14
    myems_data_sources,  # issue 14
    myems_meter_commands,  # issue 14
    myems_meter_points,  # issue 14
    myems_meters,  # issue 14
    myems_microgrid_devices,  # issue 14
    myems_microgrid_reports,  # issue 14
    myems_microgrids,  # issue 14
    myems_offline_files,  # issue 14
    myems_point_writes,  # issue 14
    myems_points,  # issue 14
    myems_portfolios,  # issue 14
    myems_reports,  # issue 14
    myems_schedules,  # issue 14
    myems_sites,  # issue 14
    myems_storage_container_devices,  # issue 14
    myems_storage_containers,  # issue 14
    myems_storage_details,  # issue 14
    myems_storage_reports,  # issue 14
    myems_tariffs,  # issue 14
    myems_user_admin,  # issue 14
    myems_users,  # issue 14
    myems_virtual_meters,  # issue 14
    personal_data,  # issue 12: crypto-shredding
    public,
    realto_commands,
    realto_entities,
    realto_sessions,
    streams,
    v2_0,
    v2_0_control,
    v3_accounts,
    v3_admin,
    v3_assets,
    v3_forecasts,
    v3_jobs,
    v3_schedules,
    v3_sensor_data,
    v3_sensor_data_upload,
    v3_sensors,
    v3_users,
    webhooks,
)
from api.schemas import ERROR_RESPONSES
from api.version import FLEXMEASURES_VERSION

API_DESCRIPTION = """\
flexledger serves EV charging and energy flexibility: sites, devices and sensors (assets), their
time series (readings, prices, forecasts, schedules), and the jobs that compute schedules and
forecasts. Paths, fields and status codes follow FlexMeasures' API (v2.0 and v3), so
`flexmeasures-client` works against it.

**Authentication.** Get a token with `POST /api/requestAuthToken` (e-mail and password) and send it
as the `Authorization` header (the raw token, or `Bearer <token>`). Tokens expire (6 h by default).

**Conventions.** Consumption is positive, production negative. Datetimes must carry an offset.
Errors are JSON: `{"status": CODE, "message": "...", "field": "..."}`.
"""

ROUTERS = [
    public.router,
    personal_data.router,
    v3_accounts.router,
    v3_assets.router,
    v3_sensors.router,
    v3_sensor_data.router,
    v3_sensor_data_upload.router,
    v3_jobs.router,
    v2_0.router,
    v2_0_control.router,
    v3_schedules.router,
    v3_forecasts.router,
    v3_admin.router,
    v3_users.router,
    realto_commands.router,
    myems_commands.router,
    myems_users.router,  # issue 14: MyEMS conventions and apikeys
    myems_user_admin.router,  # issue 14: after them (users/{id} would shadow users/logout)
    myems_meter_commands.router,  # issue 14: before the meters' /{id}/... routes
    myems_meter_points.router,  # issue 14
    myems_meters.router,  # issue 14
    myems_meters.submeters_router,  # issue 14
    myems_meters.offline_router,  # issue 14
    myems_offline_files.router,  # issue 14
    myems_reports.router,  # issue 14
    myems_dashboard.router,  # issue 14
    myems_tariffs.router,  # issue 14
    myems_microgrids.router,  # issue 14
    myems_portfolios.microgrid_users_router,  # issue 14: before the device families' /{family} routes
    myems_portfolios.microgrid_sensors_router,  # issue 14
    myems_portfolios.container_sensors_router,  # issue 14
    myems_schedules.microgrid_router,  # issue 14: operator schedules, before the /{family} routes
    myems_schedules.container_router,  # issue 14
    myems_schedules.flat_router,  # issue 14: the seed's microgridschedules family
    myems_microgrid_devices.router,  # issue 14
    myems_costcenters.router,  # issue 14
    myems_virtual_meters.router,  # issue 14
    myems_microgrid_reports.router,  # issue 14
    myems_sites.pv_router,  # issue 14
    myems_sites.wind_router,  # issue 14
    myems_sites.storage_station_router,  # issue 14
    myems_portfolios.station_containers_router,  # issue 14
    myems_portfolios.station_users_router,  # issue 14
    myems_portfolios.plant_router,  # issue 14
    myems_portfolios.plant_microgrids_router,  # issue 14
    myems_data_sources.gateway_router,  # issue 14
    myems_data_sources.source_router,  # issue 14
    myems_data_sources.members_router,  # issue 14
    myems_data_sources.sensor_router,  # issue 14
    myems_data_sources.sensor_points_router,  # issue 14
    myems_points.router,  # issue 14
    myems_point_writes.router,  # issue 14
    myems_storage_containers.router,  # issue 14
    myems_storage_container_devices.router,  # issue 14
    myems_storage_reports.router,  # issue 14
    myems_storage_details.router,  # issue 14
    finesce_chargingstates.router,
    audit_history.router,
    audit_time_travel.router,
    streams.router,
    webhooks.router,
    realto_sessions.router,
    realto_entities.router,
    finesce_cos.router,
    finesce_subresources.router,
    finesce_energies.router,
]


class BodySizeLimit:
    """Reject request bodies over ``max_bytes`` with 413 PAYLOAD_TOO_LARGE (streamed bodies too)."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await self._reject(scope, receive, send)
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise _TooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:
            await self._reject(scope, receive, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        await too_large_response(self.max_bytes)(scope, receive, send)


def too_large_response(max_bytes: int) -> JSONResponse:
    return error_response(413, "PAYLOAD_TOO_LARGE", f"request body exceeds {max_bytes} bytes", "body")


class _TooLarge(HTTPException):
    """An HTTPException, so FastAPI's body parsing re-raises it instead of answering 400."""

    def __init__(self) -> None:
        super().__init__(413, "request body too large")


class TraceRequests:
    """Opens an ``http <METHOD> <path>`` server span per request, continuing a client's
    ``traceparent``; the command context copies the span's trace context into event metadata,
    so a trace runs from the request through the append, the relay and the processors."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        tracer = tracing.get_tracer()
        with tracer.start_as_current_span(
            f"http {scope['method']} {scope['path']}",
            context=tracing.extract_context(headers),
            kind=SpanKind.SERVER,
            attributes={"http.request.method": scope["method"], "url.path": scope["path"]},
        ):
            scope.setdefault("state", {})["traceparent"] = tracing.current_traceparent()
            await self.app(scope, receive, send)


class VersionHeader:
    """Adds ``FlexMeasures-Version`` to every response (clients gate features on it)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((b"flexmeasures-version", FLEXMEASURES_VERSION.encode()))
            await send(message)

        await self.app(scope, receive, send_with_header if scope["type"] == "http" else send)


def create_app(platform: Platform, extra_routers: list | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        platform.start()
        yield
        platform.stop()

    app = FastAPIOffline(
        title="flexledger",
        version="0.1.0",
        lifespan=lifespan,
        description=API_DESCRIPTION,
        dependencies=[Depends(refuse_auditor_writes)],  # the one rule: auditors never write
        responses=ERROR_RESPONSES,
    )
    services = install(app, platform)
    install_error_handlers(app)
    for router in [*ROUTERS, *(extra_routers or [])]:
        myems = router.prefix.startswith(MYEMS_PREFIX)  # MyEMS' own error shape, declared as such
        app.include_router(router, responses=MYEMS_ERROR_RESPONSES if myems else None)
    dashboard.install_dashboard(app, platform.token_secret)
    max_bytes = services.max_body_bytes
    # a streamed body that outgrows the limit while a route reads it
    app.add_exception_handler(_TooLarge, lambda _request, _exc: too_large_response(max_bytes))
    app.add_middleware(NonFiniteJsonGuard)  # inside BodySizeLimit: reads only bodies within the limit
    app.add_middleware(BodySizeLimit, max_bytes=max_bytes)
    app.add_middleware(UrlLengthGuard, max_bytes=services.max_url_bytes)
    app.add_middleware(VersionHeader)
    app.add_middleware(TraceRequests)
    app.add_middleware(RequestLog)
    return app
