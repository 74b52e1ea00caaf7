"""Shared machinery of the v2.0 time-series endpoints (meter data and prognoses).

Both post groups of connections with values (docs 14.4.3: ``start``, ``duration`` and ``unit``
outside ``groups`` are inherited) and read them back per connection; they differ only in the
message types, the service name and which belief timings are allowed (:class:`BeliefTiming`).
Power values: consumption positive, production negative (USEF), in any power unit.
**Every group is validated before anything is appended**: a refused request stores nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.auth import CurrentUser
from api.deps import command_context, services_of
from api.routers.v2_0_common import (
    PROCESSED,
    as_list,
    authenticate,
    body_form,
    check_type,
    format_duration,
    format_time,
    parse_horizon,
    parse_period,
    parse_time,
    pick,
    power_unit,
    query_form,
    rejected,
    require_service_access,
    v2_response,
)
from api.routers.v2_0_connections import Connection, check_signs, resolve
from api.series import post_series, read_series, readings_written
from api.timefmt import parse_duration
from api.validation import check_reading_count, id_from_text
from commands.context import CommandContext, CommandError
from commands.readings import RecordSensorData, record_sensor_data
from domain.ports.event_store import AppendResult
from domain.registry import USEF_ROLES
from projections import registry_query as rq
from projections.readings import data_sources
from projections.readings_query import BeliefFilter


@dataclass(frozen=True)
class BeliefTiming:
    """Which belief timings a POST may state.

    ``forecast=False`` (meter data): ``horizon`` zero or negative and ``prior`` at or after the
    end of the period (observed after the fact). ``forecast=True`` (prognoses): ``horizon`` zero
    or positive and ``prior`` before the end of the period.
    """

    forecast: bool
    horizon_message: str
    prior_message: str

    def parse(self, form: dict) -> tuple[timedelta | None, datetime | None]:
        horizon = parse_horizon(form.get("horizon"))
        if horizon is not None and (horizon < timedelta(0) if self.forecast else horizon > timedelta(0)):
            raise rejected("INVALID_HORIZON", self.horizon_message, "horizon")
        prior = None if form.get("prior") is None else parse_time(form["prior"], "prior", "INVALID_DATETIME")
        return horizon, prior

    def check_prior(self, prior: datetime | None, period_end: datetime) -> None:
        if prior is not None and (prior >= period_end if self.forecast else prior < period_end):
            raise rejected("INVALID_HORIZON", self.prior_message, "prior")


@dataclass(frozen=True)
class Write:
    """One validated write: the values of a group for one of its connections."""

    connection: Connection
    command: RecordSensorData


def groups(form: dict) -> list[tuple[str, dict]]:
    """(field prefix, group) pairs; each group inherits ``start``, ``duration`` and ``unit``."""
    if "groups" not in form and "group" not in form:
        return [("", form)]
    groups = as_list(pick(form, "group"))
    if not groups:
        raise rejected("UNRECOGNIZED_CONNECTION_GROUP", "The message lists no groups.", "groups")
    inherited = {key: form[key] for key in ("start", "duration", "unit") if key in form}
    pairs = []
    for index, group in enumerate(groups):
        if not isinstance(group, dict):
            raise rejected("UNRECOGNIZED_CONNECTION_GROUP", "Each group must be an object.", f"groups[{index}]")
        pairs.append((f"groups[{index}].", {**inherited, **group}))
    return pairs


def connections_of(group: dict, prefix: str) -> list[Any]:
    connections = as_list(pick(group, "connection"))
    if not connections or any(c in ("", None) for c in connections):
        raise rejected(
            "UNRECOGNIZED_CONNECTION_GROUP",
            "The message (group) lists no connections, or empty ones.",
            f"{prefix}connections",
        )
    return connections


def values_of(group: dict, prefix: str) -> list[float]:
    values = as_list(pick(group, "value"))
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in values)
    if not values or not numeric:
        raise rejected(
            "PTUS_INCOMPLETE", "Missing values. Request includes empty or ill-formatted value(s).", f"{prefix}values"
        )
    return [float(v) for v in values]


def post_handler(service: str, request_type: str, response_type: str, timing: BeliefTiming) -> Callable:
    """An async route that validates every group, then appends each as beliefs of the user."""

    async def route(request: Request) -> JSONResponse:
        body = await request.body()
        services = services_of(request)

        def handle() -> dict:
            user = authenticate(services, request.headers.get("authorization"))
            form = body_form(body)
            check_type(form, request_type)
            commands = command_context(request, user)
            with services.read_connection() as conn:
                require_service_access(conn, user, service)
                writes = validated_writes(conn, user, form, commands, timing)
            count = sum(readings_written(w.connection.sensor, len(w.command.values), w.command.duration)
                        for w in writes)  # fmt: skip
            check_reading_count(count, services.max_readings_per_request, "write", "duration")
            for write in writes:
                post_series(services.consistency, commands, write.connection.sensor, write.command)
            return dict(PROCESSED)

        return await run_in_threadpool(v2_response, response_type, handle)

    return route


def validated_writes(
    conn: sa.Connection, user: CurrentUser, form: dict, commands: CommandContext, timing: BeliefTiming
) -> list[Write]:
    """Every (group, connection) write, each checked by a dry run of the command handler."""
    horizon, prior = timing.parse(form)
    writes = []
    for prefix, group in groups(form):
        unit = power_unit(group.get("unit"), f"{prefix}unit")
        connections = connections_of(group, prefix)
        values = values_of(group, prefix)
        start, duration = parse_period(group, prefix)
        timing.check_prior(prior, start + duration)
        for index, address in enumerate(connections):
            connection = resolve(conn, user, address, f"{prefix}connections[{index}]", write=True)
            check_signs(connection, values, f"{prefix}values")
            command = RecordSensorData(
                sensor_id=connection.sensor["id"],
                start=start,
                duration=duration,
                values=values,
                unit=unit,
                source=user.email,
                prior=prior,
                horizon=horizon,
            )
            dry_run(commands, connection.sensor, command, prefix)
            writes.append(Write(connection, command))
    return writes


def get_handler(service: str, request_type: str, response_type: str, default_horizon: timedelta | None) -> Callable:
    """A route answering the latest beliefs per connection (``default_horizon`` when none is asked)."""

    def route(request: Request) -> JSONResponse:
        services = services_of(request)

        def handle() -> dict:
            user = authenticate(services, request.headers.get("authorization"))
            form = query_form(request.query_params)
            check_type(form, request_type)
            with services.read_connection() as conn:
                require_service_access(conn, user, service)
                limit = services.max_readings_per_response
                return read_connections(conn, user, form, default_horizon, limit)

        return v2_response(response_type, handle)

    return route


def read_connections(
    conn: sa.Connection, user: CurrentUser, form: dict, default_horizon: timedelta | None, max_values: int | None = None
) -> dict:
    """The latest beliefs per connection; at most ``max_values`` values in all (413)."""
    unit = power_unit(form.get("unit"))
    addresses = connections_of(form, "")
    start, duration = parse_period(form)
    resolution = parse_resolution(form.get("resolution"))
    horizon = parse_horizon(form.get("horizon"))
    horizon = default_horizon if horizon is None else horizon
    prior = None if form.get("prior") is None else parse_time(form["prior"], "prior", "INVALID_DATETIME")
    beliefs = BeliefFilter(
        prior=prior,
        horizon_s=None if horizon is None else int(horizon.total_seconds()),
        sources=sources_filter(conn, user, pick(form, "source")),
    )
    connections = [resolve(conn, user, a, f"connections[{i}]", write=False) for i, a in enumerate(addresses)]
    if resolution is None and len({c.sensor["event_resolution_s"] for c in connections}) > 1:
        raise rejected(
            "INVALID_RESOLUTION", "Requested assets do not have matching resolutions; state a resolution.", "resolution"
        )
    if max_values is not None:
        steps = [duration // (resolution or timedelta(seconds=c.sensor["event_resolution_s"] or 1))
                 for c in connections]  # fmt: skip
        check_reading_count(sum(steps), max_values, "return", "duration")
    value_groups = [read_series(conn, c.sensor, start, duration, unit, resolution, beliefs)[0] for c in connections]
    body = groups_to_dict([c.address for c in connections], value_groups)
    return {**body, "start": format_time(start), "duration": format_duration(duration), "unit": unit, **PROCESSED}


class _DiscardingStore:
    """An event store that accepts appends and keeps nothing: runs a handler for its checks only."""

    def append(self, stream_id: str, events: list, expected_revision: object = None) -> AppendResult:
        return AppendResult(stream_revision=0, global_position=0, appended=len(events))


def dry_run(commands: CommandContext, sensor: dict, command: RecordSensorData, prefix: str) -> None:
    """Run ``record_sensor_data`` without storing, so one bad group refuses the whole request."""
    dry = CommandContext(_DiscardingStore(), commands.clock, commands.metadata)  # type: ignore[arg-type]
    try:
        record_sensor_data(dry, command, rq.sensor_state(sensor))
    except CommandError as exc:
        exc.field = f"{prefix}{exc.field}" if exc.field else exc.field
        raise


def parse_resolution(raw: Any) -> timedelta | None:
    if raw is None:
        return None
    try:
        resolution = parse_duration(raw)
    except ValueError:
        resolution = None
    if resolution is None or resolution <= timedelta(0):
        raise rejected(
            "INVALID_RESOLUTION", f"The resolution string cannot be parsed as ISO8601 duration: {raw!r}", "resolution"
        )
    return resolution


def sources_filter(conn: sa.Connection, user: CurrentUser, requested: Any) -> list[str] | None:
    """Data-source names for user ids, USEF role names or source names, plus the user's own."""
    if requested is None:
        return None
    names = {user.email}
    for item in as_list(requested):
        if isinstance(item, int) or (isinstance(item, str) and item.strip().isdigit()):
            user_id = id_from_text(item)
            row = None if user_id is None else rq.user_by_id(conn, user_id)
            if row is None:
                raise rejected("INVALID_SOURCE", f"The data source is not found: user {item}", "source")
            names.add(row["email"])
        elif item in USEF_ROLES:
            names.update(emails_with_role(conn, item))
        elif (
            isinstance(item, str)
            and conn.execute(sa.select(data_sources.c.id).where(data_sources.c.name == item)).first()
        ):
            names.add(item)
        else:
            raise rejected("INVALID_SOURCE", f"The data source is not found: {item!r}", "source")
    return sorted(names)


def emails_with_role(conn: sa.Connection, role: str) -> set[str]:
    account_roles = {a["id"]: a["roles"] for a in rq.list_accounts(conn)}
    return {
        u["email"] for u in rq.list_users(conn) if role in u["roles"] or role in account_roles.get(u["account_id"], [])
    }


def groups_to_dict(connections: list[str], value_groups: list[list]) -> Mapping[str, Any]:
    """FlexMeasures' response shape: connections with identical values share a group.

    One group: ``{"connection": c, "values": [...]}`` or ``{"connections": [...], "values": [...]}``;
    otherwise ``{"groups": [...]}`` with one such object per distinct series.
    """
    distinct: list[list] = []
    members: list[list[str]] = []
    for connection, values in zip(connections, value_groups, strict=True):
        if values in distinct:
            members[distinct.index(values)].append(connection)
        else:
            distinct.append(values)
            members.append([connection])
    groups = [
        {"connection": m[0], "values": v} if len(m) == 1 else {"connections": m, "values": v}
        for m, v in zip(members, distinct, strict=True)
    ]
    return groups[0] if len(groups) == 1 else {"groups": groups}
