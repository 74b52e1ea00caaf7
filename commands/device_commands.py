"""Handlers of device commands: request, cancel, and the dispatcher's outcomes (due step, send result, reply).

Every handler loads the command's stream, lets :mod:`domain.device_commands` decide, and appends
with the expected revision (a race with another writer is retried on fresh state). Lifecycle
events carry the request's correlation id, are caused by the stream's previous event, and name
their actor (the user who asked, or ``system:dispatcher`` / ``device:<gateway>``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import reduce

from commands.context import CommandContext, CommandError
from commands.registry import load_asset
from domain import device_commands as dc
from domain.events import DomainEvent, EventMetadata, NewEvent, RecordedEvent
from domain.ports.device_gateway import DeviceReply, SendResult, SendStatus
from domain.ports.event_store import NO_STREAM, WrongExpectedRevision

DISPATCHER_ACTOR = "system:dispatcher"
MAX_RACES = 10


def _rule_error(exc: dc.CommandRuleError) -> CommandError:
    return CommandError(exc.code, str(exc), exc.field)


def load_command(ctx: CommandContext, command_id: uuid.UUID) -> tuple[dc.CommandState | None, list[RecordedEvent]]:
    """The command's state (``None``: no such command) and its recorded events."""
    recorded = ctx.store.read_stream(dc.command_stream(command_id))
    return reduce(dc.evolve, (r.decode() for r in recorded), None), recorded


def request_command(ctx: CommandContext, request: dc.DeviceCommandRequest) -> tuple[dc.CommandState, bool]:
    """Record a new command for ``request.asset_id``; returns (state, created).

    With an idempotency key the command id derives from (account, device, key): a repeated
    request returns the stored command (``created`` False) and dispatches nothing again; the
    same key with a different request is 409 ``IDEMPOTENCY_KEY_REUSED``.
    """
    asset = load_asset(ctx, request.asset_id)
    if asset is None:
        raise CommandError("UNRECOGNIZED_ASSET", f"no asset {request.asset_id}", "entityId")
    device = dc.device_address(asset.asset_id, asset.attributes)
    if device is None:
        raise CommandError(
            "NO_DEVICE_GATEWAY", f"asset {asset.asset_id} has no ocpp, mqtt or simulated attributes to reach it by",
            "entityId",
        )
    key = request.idempotency_key
    command_id = dc.command_id_for_key(asset.account_id, asset.asset_id, key) if key else uuid.uuid4()
    try:
        events = dc.decide_request(request, command_id, asset.account_id, device, ctx.clock())
    except dc.CommandRuleError as exc:
        raise _rule_error(exc) from exc
    metadata = ctx.metadata.model_copy(
        update={"recorded_at": ctx.clock(), "correlation_id": ctx.metadata.correlation_id or str(command_id)}
    )
    new = [NewEvent.of(e, metadata, uuid.uuid5(command_id, f"request-{i}")) for i, e in enumerate(events)]
    try:
        appended = ctx.store.append(dc.command_stream(command_id), new, NO_STREAM).appended
    except WrongExpectedRevision:
        appended = 0
    if appended:
        return reduce(dc.evolve, events, None), True
    existing, _ = load_command(ctx, command_id)  # the key was used before (its event ids are derived from it)
    if existing is None or not _same_request(existing.requested, request):
        raise CommandError(
            "IDEMPOTENCY_KEY_REUSED", "this Idempotency-Key was used for a different command", "Idempotency-Key"
        )
    return existing, False


def _same_request(stored: dc.DeviceCommandRequested, request: dc.DeviceCommandRequest) -> bool:
    return (stored.asset_id, stored.action, stored.parameters) == (request.asset_id, request.action, request.parameters)


def cancel_command(ctx: CommandContext, command_id: uuid.UUID, reason: str | None = None) -> dc.CommandState:
    """Cancel a command that is not dispatched yet (409 ``COMMAND_NOT_CANCELLABLE`` otherwise)."""
    now = ctx.clock()
    return transition(ctx, command_id, lambda state: dc.decide_cancel(state, reason, now))[0]


def transition(
    ctx: CommandContext,
    command_id: uuid.UUID,
    decide: Callable[[dc.CommandState | None], list[DomainEvent]],
    actor: str | None = None,
) -> tuple[dc.CommandState | None, list[DomainEvent]]:
    """Load, decide, append with the expected revision; on a race, decide again on fresh state.
    Returns the new state and the events appended (``[]``: nothing to do)."""
    for _ in range(MAX_RACES):
        state, recorded = load_command(ctx, command_id)
        try:
            events = decide(state)
        except dc.CommandRuleError as exc:
            raise _rule_error(exc) from exc
        if not events:
            return state, []
        metadata = _follow_up_metadata(ctx, recorded, actor)
        try:
            ctx.store.append(
                dc.command_stream(command_id), [NewEvent.of(e, metadata) for e in events], recorded[-1].stream_revision
            )
        except WrongExpectedRevision:
            continue
        return reduce(dc.evolve, events, state), events
    raise CommandError("CONFLICT", f"command {command_id} changed too often to update")


def _follow_up_metadata(ctx: CommandContext, recorded: list[RecordedEvent], actor: str | None) -> EventMetadata:
    first, last = recorded[0], recorded[-1]
    return ctx.metadata.model_copy(
        update={
            "recorded_at": ctx.clock(),
            "correlation_id": first.metadata.correlation_id or str(first.data.get("command_id")),
            "causation_id": str(last.event_id),
            "actor": actor or ctx.metadata.actor,
        }
    )


def advance_command(
    ctx: CommandContext, command_id: uuid.UUID, gateway: str
) -> tuple[dc.CommandState | None, list[DomainEvent]]:
    """The dispatcher's step for a due command (dispatch, schedule a retry, expire), on fresh state."""
    now = ctx.clock()
    return transition(
        ctx, command_id, lambda state: [] if state is None else dc.decide_due(state, now, gateway), DISPATCHER_ACTOR
    )


def record_send_result(
    ctx: CommandContext, command_id: uuid.UUID, attempt: int, result: SendResult
) -> tuple[dc.CommandState | None, list[DomainEvent]]:
    """What the gateway said when handed attempt ``attempt``: sent (wait for a reply), unreachable
    (retry after back-off) or unsupported (fail)."""
    if result.status is SendStatus.SENT:
        return None, []
    now = ctx.clock()

    def decide(state: dc.CommandState | None) -> list[DomainEvent]:
        if state is None or state.attempts != attempt:
            return []
        if result.status is SendStatus.UNREACHABLE:
            return dc.decide_unreachable(state, result.detail, now)
        return dc.decide_failure(state, "UNSUPPORTED_BY_DEVICE", result.detail, now)

    return transition(ctx, command_id, decide, DISPATCHER_ACTOR)


def record_reply(
    ctx: CommandContext, reply: DeviceReply, gateway: str
) -> tuple[dc.CommandState | None, list[DomainEvent]]:
    """A device's reply: acknowledged or rejected (ignored when the command is no longer open)."""
    now = ctx.clock()

    def decide(state: dc.CommandState | None) -> list[DomainEvent]:
        if state is None:
            return []
        return dc.decide_reply(state, reply.accepted, reply.response, reply.reason, reply.attempt, now)

    return transition(ctx, reply.command_id, decide, f"device:{gateway}")
