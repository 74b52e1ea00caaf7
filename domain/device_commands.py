"""Device commands: events, lifecycle state and the rules that decide them.

A command targets one device (an asset) through the gateway that speaks its protocol (OCPP,
MQTT, simulated). It lives in stream ``command-<uuid>``; its lifecycle is events::

    requested ──▶ scheduled (execute_at in the future, or waiting for a retry)
        │              │
        └──────────────┴──▶ dispatched ──▶ acknowledged | rejected
                                  │
                                  ├──▶ (no reply within ack_timeout_s) ──▶ scheduled (retry, back-off)
                                  └──▶ expired (expires_at passed, or max_attempts used up)
    requested | scheduled ──▶ cancelled          any open state ──▶ failed (the gateway cannot send it)

Power parameters follow the platform's sign convention: ``power_kw`` is positive for
consumption (charging), negative for production. Times are timezone-aware (UTC).

The functions here are pure: ``evolve`` folds events into :class:`CommandState`,
``decide_*`` return the events a request or an outcome leads to, and :func:`next_step` tells
the dispatcher what is due at a given time.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from domain.device_actions import ACTIONS, ActionError, check_parameters
from domain.device_actions import device_address as device_address  # re-exported: part of the commands' vocabulary
from domain.events import DomainEvent, register_event

REQUESTED, SCHEDULED, DISPATCHED = "requested", "scheduled", "dispatched"
ACKNOWLEDGED, REJECTED, FAILED, EXPIRED, CANCELLED = "acknowledged", "rejected", "failed", "expired", "cancelled"
STATUSES = (REQUESTED, SCHEDULED, DISPATCHED, ACKNOWLEDGED, REJECTED, FAILED, EXPIRED, CANCELLED)
OPEN_STATUSES = frozenset({REQUESTED, SCHEDULED, DISPATCHED})
TERMINAL_STATUSES = frozenset(STATUSES) - OPEN_STATUSES
CANCELLABLE_STATUSES = frozenset({REQUESTED, SCHEDULED})

DEFAULT_ACK_TIMEOUT_S = 30.0
DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_RETRY_BACKOFF_S = 5.0
DEFAULT_TIME_TO_LIVE_S = 3600.0
MAX_RETRY_BACKOFF_S = 300.0

GatewayName = Literal["ocpp", "mqtt", "simulated"]


class CommandRuleError(ValueError):
    """A command request or transition was refused; ``code`` is stable, ``field`` names the input."""

    def __init__(self, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.code, self.field = code, field


def command_stream(command_id: uuid.UUID | str) -> str:
    return f"command-{command_id}"


COMMAND_NAMESPACE = uuid.UUID("6f1c3c52-52c4-4c8b-9d1e-7a0f9e1d2b11")


def command_id_for_key(account_id: int, asset_id: int, idempotency_key: str) -> uuid.UUID:
    """The command id a client's idempotency key stands for (per account and device)."""
    return uuid.uuid5(COMMAND_NAMESPACE, f"{account_id}:{asset_id}:{idempotency_key}")


@register_event
class DeviceCommandRequested(DomainEvent):
    """Someone asked a device to do something. ``device`` says how to reach it:
    ``{"gateway": "ocpp"|"mqtt"|"simulated", "address": ..., ...}``. Times in UTC."""

    command_id: uuid.UUID
    asset_id: int
    account_id: int
    action: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    device: dict[str, Any]
    execute_at: datetime
    expires_at: datetime
    ack_timeout_s: float = DEFAULT_ACK_TIMEOUT_S
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    retry_backoff_s: float = DEFAULT_RETRY_BACKOFF_S
    idempotency_key: str | None = None
    reason: str | None = None
    requested_at: datetime


@register_event
class DeviceCommandScheduled(DomainEvent):
    """The command waits until ``execute_at`` (first attempt) or a retry after ``attempt``."""

    command_id: uuid.UUID
    execute_at: datetime
    attempt: int = 0
    reason: str | None = None


@register_event
class DeviceCommandDispatched(DomainEvent):
    """Attempt ``attempt`` (1-based) was handed to the gateway; a reply is due by ``ack_due_at``."""

    command_id: uuid.UUID
    attempt: int
    gateway: str
    dispatched_at: datetime
    ack_due_at: datetime


@register_event
class DeviceCommandAcknowledged(DomainEvent):
    """The device accepted the command. ``response`` is what it said (protocol-specific)."""

    command_id: uuid.UUID
    attempt: int
    response: dict[str, Any] = Field(default_factory=dict)
    at: datetime


@register_event
class DeviceCommandRejected(DomainEvent):
    """The device refused the command."""

    command_id: uuid.UUID
    attempt: int
    response: dict[str, Any] = Field(default_factory=dict)
    reason: str
    at: datetime


@register_event
class DeviceCommandFailed(DomainEvent):
    """The command cannot be delivered (no gateway, unsupported action). ``code`` is stable."""

    command_id: uuid.UUID
    code: str
    reason: str
    at: datetime


@register_event
class DeviceCommandExpired(DomainEvent):
    """No acknowledgement in time: ``expires_at`` passed or the attempts were used up."""

    command_id: uuid.UUID
    reason: str
    attempts: int
    at: datetime


@register_event
class DeviceCommandCancelled(DomainEvent):
    """Cancelled before it was dispatched."""

    command_id: uuid.UUID
    reason: str | None = None
    at: datetime


class DeviceCommandRequest(BaseModel):
    """What a client asks for (validated); not stored — :func:`decide_request` turns it into events."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    asset_id: int
    action: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    execute_at: datetime | None = None
    expires_at: datetime | None = None
    ack_timeout_s: float = Field(default=DEFAULT_ACK_TIMEOUT_S, gt=0, le=3600)
    max_attempts: int = Field(default=DEFAULT_MAX_ATTEMPTS, ge=1, le=20)
    retry_backoff_s: float = Field(default=DEFAULT_RETRY_BACKOFF_S, ge=0, le=MAX_RETRY_BACKOFF_S)
    idempotency_key: str | None = Field(default=None, max_length=255)
    reason: str | None = Field(default=None, max_length=1000)

    @field_validator("execute_at", "expires_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("must be timezone-aware (add an offset such as Z or +01:00)")
        return value


@dataclass(frozen=True)
class CommandState:
    """A command folded from its events. Times are UTC; ``attempts`` counts dispatches."""

    requested: DeviceCommandRequested
    status: str
    attempts: int = 0
    due_at: datetime | None = None
    """When the dispatcher must act next: dispatch (requested/scheduled) or give up on a reply (dispatched)."""
    response: dict[str, Any] | None = None
    status_reason: str | None = None
    updated_at: datetime | None = None

    @property
    def command_id(self) -> uuid.UUID:
        return self.requested.command_id

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


def evolve(state: CommandState | None, event: DomainEvent) -> CommandState | None:
    """One step of a command's lifecycle (fold with ``functools.reduce(evolve, events, None)``)."""
    if isinstance(event, DeviceCommandRequested):
        return CommandState(event, REQUESTED, due_at=event.execute_at, updated_at=event.requested_at)
    if state is None:
        return None
    return _evolve_outcome(state, event)


def _evolve_outcome(state: CommandState, event: DomainEvent) -> CommandState:
    match event:
        case DeviceCommandScheduled():
            return replace(state, status=SCHEDULED, due_at=event.execute_at, status_reason=event.reason)
        case DeviceCommandDispatched():
            return replace(
                state, status=DISPATCHED, attempts=event.attempt, due_at=event.ack_due_at,
                updated_at=event.dispatched_at,
            )
        case DeviceCommandAcknowledged():
            return replace(state, status=ACKNOWLEDGED, due_at=None, response=event.response, updated_at=event.at)
        case DeviceCommandRejected():
            return replace(
                state, status=REJECTED, due_at=None, response=event.response, status_reason=event.reason,
                updated_at=event.at,
            )
        case DeviceCommandFailed():
            return replace(state, status=FAILED, due_at=None, status_reason=event.reason, updated_at=event.at)
        case DeviceCommandExpired():
            return replace(state, status=EXPIRED, due_at=None, status_reason=event.reason, updated_at=event.at)
        case DeviceCommandCancelled():
            return replace(state, status=CANCELLED, due_at=None, status_reason=event.reason, updated_at=event.at)
    return state


def decide_request(
    request: DeviceCommandRequest, command_id: uuid.UUID, account_id: int, device: dict[str, Any], now: datetime
) -> list[DomainEvent]:
    """Events of a new command: requested, and scheduled when it is to run later."""
    if request.action not in ACTIONS:
        raise CommandRuleError("INVALID_ACTION", f"unknown action {request.action!r}; known: {', '.join(ACTIONS)}",
                               "action")
    try:
        check_parameters(request.action, request.parameters)
    except ActionError as exc:
        raise CommandRuleError(exc.code, str(exc), exc.field) from exc
    execute_at = request.execute_at or now
    expires_at = request.expires_at or max(execute_at, now) + timedelta(seconds=DEFAULT_TIME_TO_LIVE_S)
    if expires_at <= max(execute_at, now):
        raise CommandRuleError("INVALID_EXPIRY", "expires_at must be after execute_at and now", "expires_at")
    requested = DeviceCommandRequested(
        command_id=command_id, account_id=account_id, device=device, requested_at=now,
        **request.model_dump(exclude={"execute_at", "expires_at"}), execute_at=execute_at, expires_at=expires_at,
    )
    if execute_at > now:
        return [requested, DeviceCommandScheduled(command_id=command_id, execute_at=execute_at)]
    return [requested]


def decide_cancel(state: CommandState | None, reason: str | None, now: datetime) -> list[DomainEvent]:
    """Cancel a command not yet dispatched; cancelling a cancelled command changes nothing."""
    if state is None:
        raise CommandRuleError("UNKNOWN_COMMAND", "no such command", "commandId")
    if state.status == CANCELLED:
        return []
    if state.status not in CANCELLABLE_STATUSES:
        raise CommandRuleError(
            "COMMAND_NOT_CANCELLABLE", f"the command is {state.status}; only requested or scheduled commands "
            "can be cancelled", "status",
        )
    return [DeviceCommandCancelled(command_id=state.command_id, reason=reason, at=now)]


Step = Literal["dispatch", "retry_later", "expire", "wait"]


def next_step(state: CommandState, now: datetime) -> Step:
    """What is due for an open command at ``now``: dispatch it, schedule a retry, expire it, or wait."""
    if not state.is_open or state.due_at is None:
        return "wait"
    if now >= state.requested.expires_at:
        return "expire"
    if now < state.due_at:
        return "wait"
    if state.status != DISPATCHED:
        return "dispatch"
    return "retry_later" if state.attempts < state.requested.max_attempts else "expire"


def decide_due(state: CommandState, now: datetime, gateway: str) -> list[DomainEvent]:
    """The events of the step due at ``now`` (see :func:`next_step`); ``[]`` when nothing is due."""
    step, request = next_step(state, now), state.requested
    if step == "dispatch":
        ack_due = min(now + timedelta(seconds=request.ack_timeout_s), request.expires_at)
        return [DeviceCommandDispatched(
            command_id=state.command_id, attempt=state.attempts + 1, gateway=gateway, dispatched_at=now,
            ack_due_at=ack_due,
        )]
    if step == "retry_later":
        backoff_s = min(request.retry_backoff_s * 2 ** (state.attempts - 1), MAX_RETRY_BACKOFF_S)
        return [DeviceCommandScheduled(
            command_id=state.command_id, execute_at=now + timedelta(seconds=backoff_s), attempt=state.attempts,
            reason=f"no reply to attempt {state.attempts} within {request.ack_timeout_s:g} s",
        )]
    if step == "expire":
        if now >= request.expires_at:
            reason = "expires_at passed without an acknowledgement"
        else:
            reason = f"no reply after {state.attempts} attempt(s)"
        return [DeviceCommandExpired(command_id=state.command_id, reason=reason, attempts=state.attempts, at=now)]
    return []


def decide_unreachable(state: CommandState, reason: str, now: datetime) -> list[DomainEvent]:
    """The gateway could not hand attempt ``state.attempts`` over (device offline): retry after back-off,
    or expire when the attempts are used up."""
    if state.status != DISPATCHED:
        return []
    request = state.requested
    if state.attempts >= request.max_attempts:
        return [DeviceCommandExpired(
            command_id=state.command_id, reason=f"device unreachable after {state.attempts} attempt(s): {reason}",
            attempts=state.attempts, at=now,
        )]
    backoff_s = min(request.retry_backoff_s * 2 ** (state.attempts - 1), MAX_RETRY_BACKOFF_S)
    return [DeviceCommandScheduled(
        command_id=state.command_id, execute_at=now + timedelta(seconds=backoff_s), attempt=state.attempts,
        reason=f"device unreachable: {reason}",
    )]


def decide_failure(state: CommandState, code: str, reason: str, now: datetime) -> list[DomainEvent]:
    """The command cannot be delivered at all (unsupported action, unknown gateway)."""
    if not state.is_open:
        return []
    return [DeviceCommandFailed(command_id=state.command_id, code=code, reason=reason, at=now)]


def decide_reply(
    state: CommandState, accepted: bool, response: dict[str, Any], reason: str | None, attempt: int, now: datetime
) -> list[DomainEvent]:
    """A device's reply. Accepted while waiting (or between retries): acknowledged; refused: rejected.
    A reply to a command that is no longer open (a duplicate, a late one after expiry) changes nothing."""
    if state.status not in (DISPATCHED, SCHEDULED) or state.attempts == 0:
        return []
    if accepted:
        return [DeviceCommandAcknowledged(command_id=state.command_id, attempt=attempt, response=response, at=now)]
    return [DeviceCommandRejected(
        command_id=state.command_id, attempt=attempt, response=response, reason=reason or "rejected by the device",
        at=now,
    )]


COMMAND_EVENT_TYPES = frozenset({
    "DeviceCommandRequested", "DeviceCommandScheduled", "DeviceCommandDispatched", "DeviceCommandAcknowledged",
    "DeviceCommandRejected", "DeviceCommandFailed", "DeviceCommandExpired", "DeviceCommandCancelled",
})
