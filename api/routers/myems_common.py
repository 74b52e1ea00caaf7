"""Shared pieces of the MyEMS energy-management routers (issue 14): the ``{"data": ...}`` body,
read-your-writes in one helper, MyEMS datetimes, and the 201 + ``Location`` answer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from api.deps import Consistency, command_context
from api.errors import ApiError
from api.myems import PREFIX, MyEmsUser
from commands.context import CommandContext

Wait = Callable[[str, str], None]


class Envelope(BaseModel):
    """MyEMS request bodies: ``{"data": {...}}``."""

    model_config = ConfigDict(extra="forbid")

    data: dict[str, Any] = {}


def get_wait(consistency: Consistency) -> Wait:
    """Read-your-writes: ``wait(processor, stream_id)`` until the processor applied the stream
    (bounded by the consistency timeout)."""

    def wait(processor: str, stream_id: str) -> None:
        consistency.wait_until_projected(processor, stream_id=stream_id)

    return wait


WaitProjected = Annotated[Wait, Depends(get_wait)]


def get_self_commands(user: MyEmsUser, request: Request) -> CommandContext:
    """A command context for the caller's own session and password (auditors too)."""
    return command_context(request, user)


SelfCommands = Annotated[CommandContext, Depends(get_self_commands)]


def utc_field(value: Any, field: str) -> datetime:
    """A MyEMS ``..._utc`` datetime: naive means UTC (the name says so); aware is converted."""
    try:
        parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except (TypeError, ValueError) as exc:
        raise ApiError(400, "API.INVALID_" + field.upper(), f"{field}: not an ISO 8601 datetime", field) from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def myems_datetime(value: datetime) -> str:
    """MyEMS' datetime text: ``YYYY-MM-DDTHH:MM:SS`` (UTC for ``..._utc`` fields)."""
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def created(path: str, entity_id: int, body: dict | None = None) -> Response:
    """MyEMS' answer to a create: 201 with ``Location`` (and, where flexledger adds one, a body)."""
    headers = {"Location": f"{PREFIX}/{path}/{entity_id}"}
    if body is None:
        return Response(status_code=201, headers=headers)
    return JSONResponse(body, status_code=201, headers=headers)
