"""Handlers of MyEMS-style command definitions: create, update, delete, clone, send."""

from __future__ import annotations

import uuid
from functools import reduce
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from commands.context import CommandContext, CommandError
from commands.device_commands import request_command
from domain import device_commands as dc
from domain import myems_commands as my
from domain.ports.event_store import NO_STREAM


class MyEmsCommandFields(BaseModel):
    """A command definition as MyEMS clients send it (``asset_id``: the device; flexledger's extension)."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=128)
    topic: str = Field(min_length=1, max_length=128)
    payload: str = Field(min_length=1, max_length=4096)
    set_value: float | None = None
    description: str | None = Field(default=None, max_length=1024)
    asset_id: int


def load_definition(ctx: CommandContext, command_id: int) -> tuple[my.MyEmsCommandDefined | None, int | None]:
    events, revision = ctx.load(my.myems_command_stream(command_id))
    return reduce(my.evolve, events, None), revision


def require_definition(ctx: CommandContext, command_id: int) -> tuple[my.MyEmsCommandDefined, int]:
    state, revision = load_definition(ctx, command_id)
    if state is None or revision is None:
        raise CommandError("API.COMMAND_NOT_FOUND", f"no command {command_id}", "id")
    return state, revision


def create_definition(ctx: CommandContext, account_id: int, fields: MyEmsCommandFields) -> int:
    command_id = ctx.reserve_id("myemscommand")
    event = my.MyEmsCommandDefined(command_id=command_id, uuid=uuid.uuid4(), account_id=account_id,
                                   **fields.model_dump())
    ctx.append(my.myems_command_stream(command_id), [event], NO_STREAM)
    return command_id


def update_definition(ctx: CommandContext, command_id: int, fields: MyEmsCommandFields) -> None:
    state, revision = require_definition(ctx, command_id)
    changes = {k: v for k, v in fields.model_dump().items() if getattr(state, k) != v}
    if changes:
        ctx.append(my.myems_command_stream(command_id), [my.MyEmsCommandChanged(command_id=command_id,
                                                                                changes=changes)], revision)


def delete_definition(ctx: CommandContext, command_id: int) -> None:
    _, revision = require_definition(ctx, command_id)
    ctx.append(my.myems_command_stream(command_id), [my.MyEmsCommandDeleted(command_id=command_id)], revision)


def send_definition(
    ctx: CommandContext, command_id: int, set_value: float | None, idempotency_key: str | None = None
) -> dc.CommandState:
    """Record a device command (action ``set_value``) from the definition; the dispatcher sends it."""
    state, _ = require_definition(ctx, command_id)
    value = state.set_value if set_value is None else set_value
    if value is None:
        raise CommandError("API.INVALID_SET_VALUE", "the command has no set_value; send one", "set_value")
    parameters: dict[str, Any] = {"value": value, "topic": state.topic,
                                  "payload": my.render_payload(state.payload, value), "myems_command_id": command_id}
    request = dc.DeviceCommandRequest(asset_id=state.asset_id, action="set_value", parameters=parameters,
                                      reason=f"MyEMS command {state.name}", idempotency_key=idempotency_key)
    return request_command(ctx, request)[0]
