"""Realto-style Commands API: trigger or schedule, retrieve, list and cancel commands of an entity.

An entity is a device (an asset) of the caller's account; ``Authorization: Bearer <token>``.

* ``POST /api/v1/entities/{entityId}/commands`` — ``{"command", "parameters", "scheduledFor"?,
  "expiresAt"?, "reason"?, "retry"?: {"maxAttempts", "backoffSeconds", "ackTimeoutSeconds"}}``;
  without ``scheduledFor`` it is triggered now. An ``Idempotency-Key`` header (or ``commandId`` in
  the body) returns the same command for a repeated request (200 instead of 201).
* ``GET /api/v1/entities/{entityId}/commands/{commandId}``
* ``GET /api/v1/entities/{entityId}/commands?from&to&status&pageSize&continuationToken`` —
  ``{"data": [...], "links": {"next"}, "meta": {"continuationToken", "pageSize"}}`` as the seed's
  charge sessions (``from`` inclusive, ``to`` exclusive, on the creation time; oldest first).
* ``PATCH /api/v1/entities/{entityId}/commands/{commandId}`` ``{"status": "cancelled"}`` — only
  before dispatch (409 ``COMMAND_NOT_CANCELLABLE`` after).

A command item mirrors the seed's records: ``{"id", "entityId", "created", "data": {...}}``.
Power parameters in kW, consumption positive. Users of the device's account may command it
(admins any device); auditors read, never command.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from api.auth import CurrentUser
from api.deps import Commands, ReadConn, Services, User, visible_asset
from api.device_access import require_control
from api.errors import ApiError
from commands.device_commands import cancel_command, request_command
from domain import device_commands as dc
from projections import device_commands as q

router = APIRouter(prefix="/api/v1", tags=["commands (Realto)"])
PROJECTION = "projection.device_commands"
MAX_PAGE_SIZE = 1000


class RetryPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    maxAttempts: int = Field(default=dc.DEFAULT_MAX_ATTEMPTS, ge=1, le=20)  # noqa: N815 - Realto's camelCase
    backoffSeconds: float = Field(default=dc.DEFAULT_RETRY_BACKOFF_S, ge=0, le=dc.MAX_RETRY_BACKOFF_S)  # noqa: N815
    ackTimeoutSeconds: float = Field(default=dc.DEFAULT_ACK_TIMEOUT_S, gt=0, le=3600)  # noqa: N815


class CommandIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    command: str = Field(min_length=1, max_length=64, description="Action, e.g. set_power, start_charging.")
    parameters: dict[str, Any] = Field(default_factory=dict)
    scheduledFor: AwareDatetime | None = None  # noqa: N815
    expiresAt: AwareDatetime | None = None  # noqa: N815
    reason: str | None = Field(default=None, max_length=1000)
    commandId: str | None = Field(default=None, max_length=255, description="Client command id (idempotency).")  # noqa: N815
    retry: RetryPolicy = Field(default_factory=RetryPolicy)


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["cancelled"]
    reason: str | None = Field(default=None, max_length=1000)


def _time(value: str | None) -> str | None:
    if value is None:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).strftime("%Y-%m-%dT%H:%M:%SZ")


def command_item(row: dict) -> dict:
    """A read-model row in the Realto record shape."""
    return {
        "id": row["id"],
        "entityId": str(row["asset_id"]),
        "created": _time(row["created_at"]),
        "data": {
            "command": row["action"],
            "parameters": row["parameters"],
            "status": row["status"],
            "statusReason": row["status_reason"],
            "scheduledFor": _time(row["execute_at"]),
            "expiresAt": _time(row["expires_at"]),
            "attempts": row["attempts"],
            "response": row["response"],
            "reason": row["reason"],
            "idempotencyKey": row["idempotency_key"],
            "updated": _time(row["updated_at"]),
        },
    }


def _entity(conn: ReadConn, user: CurrentUser, entity_id: str) -> dict:
    if not entity_id.isdigit():
        raise ApiError(404, "UNRECOGNIZED_ASSET", f"no entity {entity_id}", "entityId")
    return visible_asset(conn, user, int(entity_id))


def _command_row(conn: ReadConn, entity: dict, command_id: str) -> dict:
    row = q.command_by_id(conn, command_id)
    if row is None or row["asset_id"] != entity["id"]:
        raise ApiError(404, "UNKNOWN_COMMAND", f"no command {command_id} for entity {entity['id']}", "commandId")
    return row


def state_item(state: dc.CommandState) -> dict:
    """The item from the command's own state (when the read model has not caught up yet)."""
    r = state.requested
    return command_item({
        "id": str(r.command_id), "asset_id": r.asset_id, "created_at": q.utc_text(r.requested_at),
        "action": r.action, "parameters": r.parameters, "status": state.status, "status_reason": state.status_reason,
        "execute_at": q.utc_text(state.due_at if state.status == dc.SCHEDULED and state.due_at else r.execute_at),
        "expires_at": q.utc_text(r.expires_at), "attempts": state.attempts, "response": state.response,
        "reason": r.reason, "idempotency_key": r.idempotency_key,
        "updated_at": q.utc_text(state.updated_at or r.requested_at),
    })


def _after_write(services: Services, conn: ReadConn, state: dc.CommandState) -> dict:
    """Read-your-writes: the projected row once the read model has it (bounded wait), else the state."""
    if services.consistency.wait_until_projected(PROJECTION, stream_id=dc.command_stream(state.command_id)):
        conn.rollback()  # a fresh read transaction that sees the projected row
        row = q.command_by_id(conn, str(state.command_id))
        if row is not None:
            return command_item(row)
    return state_item(state)


@router.post("/entities/{entityId}/commands")
def trigger_command(
    entityId: str,  # noqa: N803 - the seed's path parameter name
    body: CommandIn,
    user: User,
    commands: Commands,
    conn: ReadConn,
    services: Services,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)] = None,
) -> JSONResponse:
    """Send a command to a device now or at ``scheduledFor``; an ``Idempotency-Key`` repeats the same command (200)."""
    entity = _entity(conn, user, entityId)
    require_control(user, entity)
    request = dc.DeviceCommandRequest(
        asset_id=entity["id"], action=body.command, parameters=body.parameters, execute_at=body.scheduledFor,
        expires_at=body.expiresAt, reason=body.reason, idempotency_key=idempotency_key or body.commandId,
        max_attempts=body.retry.maxAttempts, retry_backoff_s=body.retry.backoffSeconds,
        ack_timeout_s=body.retry.ackTimeoutSeconds,
    )
    state, created = request_command(commands, request)
    return JSONResponse(_after_write(services, conn, state), status_code=201 if created else 200)


@router.get("/entities/{entityId}/commands/{commandId}")
def get_command(entityId: str, commandId: str, user: User, conn: ReadConn) -> dict:  # noqa: N803
    """One command of the device with its status (requested, scheduled, dispatched,
    acknowledged, rejected, failed, expired or cancelled)."""
    entity = _entity(conn, user, entityId)
    return command_item(_command_row(conn, entity, commandId))


@router.get("/entities/{entityId}/commands")
def list_commands(
    request: Request,
    entityId: str,  # noqa: N803
    user: User,
    conn: ReadConn,
    from_: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    to: AwareDatetime | None = None,
    status: Annotated[list[str] | None, Query()] = None,
    pageSize: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 100,  # noqa: N803
    continuationToken: Annotated[str | None, Query(max_length=200)] = None,  # noqa: N803
) -> dict:
    """A page of the device's commands, oldest first, filtered by creation time (``from``/``to``) and ``status``."""
    entity = _entity(conn, user, entityId)
    statuses = tuple(s for value in status or [] for s in value.split(",") if s)
    unknown = [s for s in statuses if s not in dc.STATUSES]
    if unknown:
        raise ApiError(422, "INVALID_STATUS", f"unknown status {unknown[0]!r}; known: {', '.join(dc.STATUSES)}",
                       "status")
    where = q.CommandFilter(asset_id=entity["id"], statuses=statuses, created_from=from_, created_to=to)
    try:
        rows, token = q.list_commands(conn, where, pageSize, continuationToken)
    except q.InvalidToken as exc:
        raise ApiError(422, "INVALID_CONTINUATION_TOKEN", str(exc), "continuationToken") from exc
    next_link = str(request.url.include_query_params(continuationToken=token)) if token else None
    return {
        "data": [command_item(r) for r in rows],
        "links": {"next": next_link},
        "meta": {"continuationToken": token, "pageSize": pageSize},
    }


@router.patch("/entities/{entityId}/commands/{commandId}")
def cancel(
    entityId: str,  # noqa: N803
    commandId: str,  # noqa: N803
    body: CancelIn,
    user: User,
    commands: Commands,
    conn: ReadConn,
    services: Services,
) -> dict:
    """Cancel a command that was not dispatched yet (409 ``COMMAND_NOT_CANCELLABLE`` after dispatch)."""
    entity = _entity(conn, user, entityId)
    require_control(user, entity)
    row = _command_row(conn, entity, commandId)
    state = cancel_command(commands, uuid.UUID(row["id"]), body.reason)
    return _after_write(services, conn, state)
