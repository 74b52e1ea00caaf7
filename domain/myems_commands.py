"""MyEMS-style command definitions: a named, reusable command for one device.

A definition (MyEMS ``commands``: name, topic, payload, optional ``set_value``, description)
lives in stream ``myemscommand-<id>``. Sending it (``PUT /commands/{id}/send``) records a device
command (:mod:`domain.device_commands`, action ``set_value``) for the device it is bound to
(``asset_id``, flexledger's extension), with ``$s1`` in the payload replaced by the value.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import Field

from domain.events import DomainEvent, register_event

MUTABLE_FIELDS = frozenset({"name", "topic", "payload", "set_value", "description", "asset_id"})


def myems_command_stream(command_id: int) -> str:
    return f"myemscommand-{command_id}"


@register_event
class MyEmsCommandDefined(DomainEvent):
    command_id: int
    uuid: uuid.UUID
    account_id: int
    asset_id: int
    name: str
    topic: str
    payload: str
    set_value: float | None = None
    description: str | None = None


@register_event
class MyEmsCommandChanged(DomainEvent):
    command_id: int
    changes: dict[str, Any] = Field(default_factory=dict)


@register_event
class MyEmsCommandDeleted(DomainEvent):
    command_id: int


def evolve(state: MyEmsCommandDefined | None, event: DomainEvent) -> MyEmsCommandDefined | None:
    if isinstance(event, MyEmsCommandDefined):
        return event
    if isinstance(event, MyEmsCommandChanged) and state is not None:
        return state.model_copy(update=event.changes)
    if isinstance(event, MyEmsCommandDeleted):
        return None
    return state


def render_payload(payload: str, value: float | None) -> str:
    """The payload to send: ``$s1`` replaced by the set value (MyEMS' placeholder)."""
    return payload if value is None else payload.replace("$s1", f"{value:g}")
