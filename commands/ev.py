"""Handlers of the EV domain's commands: regions, charging modes, EV types, EVs, EVSEs, sessions.

Integer ids come from the sequence streams (``sequence-region``, ...). The caller checks that
the account may be written by the user; handlers check that what a command names exists and
belongs to the same account. Power in kW, energy in kWh, consumption positive.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import reduce

from pydantic import BaseModel, Field

from commands.context import CommandContext, CommandError
from commands.registry import load_asset
from domain import ev
from domain.ports.event_store import NO_STREAM, AppendResult


def _fail(exc: ev.EvDomainError) -> CommandError:
    return CommandError(exc.code, str(exc), exc.field)


UNKNOWN_CODES = {
    "asset_id": "UNKNOWN_ASSET_ID",
    "charging_mode_ids": "UNKNOWN_CHARGING_MODE_IDS",
    "ev_type_id": "UNKNOWN_EV_TYPE_ID",
    "region_id": "UNKNOWN_REGION_ID",
}
"""The code of a refused command naming an entity that does not exist in the account, by field."""


def _owned(ctx: CommandContext, stream: str, account_id: int, field: str) -> None:
    """Refused (``UNKNOWN_<FIELD>``) unless the entity of ``stream`` exists and belongs to ``account_id``."""
    events, _ = ctx.load(stream)
    if not events or getattr(events[0], "account_id", None) != account_id:
        raise CommandError(UNKNOWN_CODES[field], f"no {stream.replace('-', ' ')} in this account", field)


class RegisterRegion(BaseModel):
    account_id: int
    name: str = Field(min_length=1, max_length=255)
    code: str = Field(default="", max_length=64)
    country: str = Field(default="", max_length=255)


class RegisterChargingMode(BaseModel):
    account_id: int
    name: str = Field(min_length=1, max_length=255)
    power_kw: float = Field(ge=0, le=10_000)
    description: str = Field(default="", max_length=1000)


class RegisterEvType(BaseModel):
    account_id: int
    manufacturer: str = Field(min_length=1, max_length=255)
    brand: str = Field(min_length=1, max_length=255)
    battery_capacity_kwh: float = Field(gt=0, le=10_000)
    range_min_km: int = Field(ge=0)
    range_max_km: int = Field(ge=0)
    charging_mode_ids: list[int] = Field(default_factory=list, max_length=100)


class RegisterEv(BaseModel):
    account_id: int
    ev_type_id: int
    battery_capacity_kwh: float | None = Field(default=None, gt=0, le=10_000)


def register_region(ctx: CommandContext, cmd: RegisterRegion) -> int:
    region_id = ctx.reserve_id("region")
    ctx.append(f"region-{region_id}", [ev.RegionRegistered(region_id=region_id, **cmd.model_dump())], NO_STREAM)
    return region_id


def register_charging_mode(ctx: CommandContext, cmd: RegisterChargingMode) -> int:
    mode_id = ctx.reserve_id("chargingmode")
    event = ev.ChargingModeRegistered(charging_mode_id=mode_id, **cmd.model_dump())
    ctx.append(f"chargingmode-{mode_id}", [event], NO_STREAM)
    return mode_id


def register_ev_type(ctx: CommandContext, cmd: RegisterEvType) -> int:
    if cmd.range_max_km < cmd.range_min_km:
        raise CommandError("INVALID_RANGE", "range_max_km is below range_min_km", "range_max_km")
    for mode_id in cmd.charging_mode_ids:
        _owned(ctx, f"chargingmode-{mode_id}", cmd.account_id, "charging_mode_ids")
    type_id = ctx.reserve_id("evtype")
    ctx.append(f"evtype-{type_id}", [ev.EvTypeRegistered(ev_type_id=type_id, **cmd.model_dump())], NO_STREAM)
    return type_id


def register_ev(ctx: CommandContext, cmd: RegisterEv) -> int:
    _owned(ctx, f"evtype-{cmd.ev_type_id}", cmd.account_id, "ev_type_id")
    ev_id = ctx.reserve_id("ev")
    ctx.append(f"ev-{ev_id}", [ev.EvRegistered(ev_id=ev_id, **cmd.model_dump())], NO_STREAM)
    return ev_id


class SetAlgoWeights(BaseModel):
    account_id: int
    region_id: int
    timeslot_id: int
    renewables: float = Field(ge=0, le=100)
    interconnect: float = Field(ge=0, le=100)
    specific: float = Field(ge=0, le=100)


def set_algo_weights(ctx: CommandContext, cmd: SetAlgoWeights) -> int:
    _owned(ctx, f"region-{cmd.region_id}", cmd.account_id, "region_id")
    weight_id = ctx.reserve_id("algoweight")
    try:
        event = ev.AlgoWeightsSet(algoweight_id=weight_id, **cmd.model_dump())
    except ValueError as exc:
        raise CommandError("INVALID_TIMESLOT", str(exc), "timeslot_id") from exc
    ctx.append(f"algoweight-{weight_id}", [event], NO_STREAM)
    return weight_id


def register_evse(ctx: CommandContext, event: ev.EvseRegistered) -> None:
    """Add the EV-specific facts to an EVSE asset (once; later changes are :class:`ev.EvseChanged`)."""
    asset = load_asset(ctx, event.asset_id)
    try:
        ev.decide_evse(None if asset is None else asset.model_dump(), event)
    except ev.EvDomainError as exc:
        raise _fail(exc) from exc
    if event.region_id is not None:
        _owned(ctx, f"region-{event.region_id}", event.account_id, "region_id")
    stream = f"evse-{event.asset_id}"
    if ctx.store.stream_revision(stream) is not None:
        raise CommandError("EVSE_EXISTS", f"asset {event.asset_id} is already an EVSE", "asset_id")
    ctx.append(stream, [event], NO_STREAM)


def change_evse(ctx: CommandContext, asset_id: int, account_id: int, changes: dict) -> None:
    """Change EV-specific facts of an EVSE of ``account_id`` (fields of :data:`ev.EVSE_MUTABLE_FIELDS`)."""
    unknown = sorted(set(changes) - ev.EVSE_MUTABLE_FIELDS)
    if unknown:
        raise CommandError("INVALID_FIELD", f"field {unknown[0]!r} cannot be changed", unknown[0])
    stream = f"evse-{asset_id}"
    _owned(ctx, stream, account_id, "asset_id")
    if changes.get("region_id") is not None:
        _owned(ctx, f"region-{changes['region_id']}", account_id, "region_id")
    ctx.append(stream, [ev.EvseChanged(asset_id=asset_id, changes=changes)], ctx.store.stream_revision(stream))


def load_session(ctx: CommandContext, session_id: uuid.UUID) -> tuple[ev.SessionState | None, int | None]:
    events, revision = ctx.load(ev.session_stream(session_id))
    return reduce(ev.evolve_session, events, None), revision


def record_session_event(ctx: CommandContext, event, event_id: uuid.UUID | None = None) -> AppendResult | None:
    """Append one session event (plug-in, start, stop, state, plug-out) if the rules allow it.

    ``event_id`` makes a retried call idempotent; a repeated last step appends nothing (``None``).
    """
    state, revision = load_session(ctx, event.session_id)
    try:
        decided = ev.decide_session(state, event)
    except ev.EvDomainError as exc:
        raise _fail(exc) from exc
    if not decided:
        return None
    expected = NO_STREAM if revision is None else revision
    return ctx.store.append(ev.session_stream(event.session_id), [ctx.new_event(decided[0], event_id)], expected)


def session_id_for(namespace: uuid.UUID, evse_asset_id: int, external_id: str, at: datetime) -> uuid.UUID:
    """A deterministic session id (imports and chargers that retry)."""
    return uuid.uuid5(namespace, f"{evse_asset_id}/{external_id}/{at.isoformat()}")
