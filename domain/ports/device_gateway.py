"""The device-gateway port: how a command reaches a device, and how its reply comes back.

Adapters: :mod:`infra.gateways.simulated` (in-process devices; the test fake),
:mod:`infra.gateways.ocpp` (OCPP 1.6J central system over WebSocket) and
:mod:`infra.gateways.mqtt` (MQTT, paho). All pass ``tests/contract/test_device_gateway.py``.

Semantics every adapter keeps:

* ``send`` hands one attempt of a command to the device and returns at once: ``SENT`` (the
  device's reply, if any, comes later through the reply handler), ``UNREACHABLE`` (the device
  is not connected now: the dispatcher retries after a back-off) or ``UNSUPPORTED`` (this
  device can never carry out the action: the command fails).
* A reply names the command id and the attempt it answers; the gateway calls the reply
  handler once per reply it receives, from any thread. Acting on a reply is idempotent.
* ``send`` never blocks on the device's answer.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, Protocol


class SendStatus(Enum):
    SENT = "sent"
    UNREACHABLE = "unreachable"
    UNSUPPORTED = "unsupported"


@dataclass(frozen=True, slots=True)
class SendResult:
    status: SendStatus
    detail: str = ""


@dataclass(frozen=True, slots=True)
class OutgoingCommand:
    """One attempt of a command. ``address`` is the device's address on its gateway
    (``{"gateway": ..., "address": ..., ...}``); power parameters in kW, consumption positive."""

    command_id: uuid.UUID
    attempt: int
    action: str
    parameters: dict[str, Any]
    address: dict[str, Any]
    reply_due_at: datetime | None = None
    """After this the attempt counts as unanswered: a gateway that could not send it by then drops it."""


@dataclass(frozen=True, slots=True)
class DeviceReply:
    """A device's answer to attempt ``attempt`` of command ``command_id``."""

    command_id: uuid.UUID
    attempt: int
    accepted: bool
    response: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None


ReplyHandler = Callable[[DeviceReply], None]


class DeviceGateway(Protocol):
    """One protocol's way to devices."""

    name: str

    def set_reply_handler(self, handler: ReplyHandler) -> None:
        """Where replies go (set once, before ``start``)."""
        ...

    def send(self, command: OutgoingCommand) -> SendResult: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...
