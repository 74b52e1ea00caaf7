"""The EV charging domain: EVSEs, EV types, EVs, charging modes, regions, and charge sessions.

An EVSE is a platform asset (``one-way_evse`` or ``two-way_evse``) — the registry keeps its name,
account, location and sensors; :class:`EvseRegistered` adds what is EV-specific (make, model,
hardware/firmware, region, maximum power in kW, phases, the sensor whose readings meter the
EVSE's energy). Streams: ``evse-<asset id>``, ``evtype-<id>``, ``ev-<id>``, ``chargingmode-<id>``,
``region-<id>``, ``evsession-<uuid>``.

A charge session (FINESCE: an EV–EVSE connection) is the stream of one plug-in:
:class:`EvPluggedIn` → :class:`ChargingStarted` / :class:`ChargingStopped` (any number) →
:class:`EvPluggedOut`; :class:`ConnectionStateChanged` records other states. Its energy is
not in these events: the charge-session projection takes it from the EVSE's readings, so a
late or repeated reading replaces the slot's value instead of adding to it. Energy in kWh,
consumption positive; all times timezone-aware.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator

from domain.events import DomainEvent, register_event

EVSE_ASSET_TYPES = ("one-way_evse", "two-way_evse")
CONNECTION_STATES = ("not_connected", "connected", "charging", "suspended", "grid_connected", "finished")
"""FINESCE connection states (``evevseconnectionstates``), plus OCPP-like suspended/finished."""


class EvDomainError(ValueError):
    """A command of the EV domain was refused; ``code`` is stable, ``field`` names the input."""

    def __init__(self, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.code, self.field = code, field


class _Aware(DomainEvent):
    @field_validator("at", check_fields=False)
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("datetime must be timezone-aware")
        return value


@register_event
class RegionRegistered(DomainEvent):
    region_id: int
    account_id: int
    name: str
    code: str
    country: str


@register_event
class ChargingModeRegistered(DomainEvent):
    """A charging mode: ``power_kw`` is the charging power it allows (consumption positive)."""

    charging_mode_id: int
    account_id: int
    name: str
    power_kw: float
    description: str = ""


@register_event
class EvTypeRegistered(DomainEvent):
    ev_type_id: int
    account_id: int
    manufacturer: str
    brand: str
    battery_capacity_kwh: float
    range_min_km: int
    range_max_km: int
    charging_mode_ids: list[int] = Field(default_factory=list)


@register_event
class EvRegistered(DomainEvent):
    """An EV of an account; ``battery_capacity_kwh`` overrides its type's when given."""

    ev_id: int
    account_id: int
    ev_type_id: int
    battery_capacity_kwh: float | None = None


@register_event
class EvseRegistered(DomainEvent):
    """EV-specific facts about an EVSE asset. ``energy_sensor_id`` meters it (kWh or power)."""

    asset_id: int
    account_id: int
    make: str = ""
    model: str = ""
    hardware_version: str = ""
    firmware_version: str = ""
    region_id: int | None = None
    max_power_kw: float | None = None
    phases: int = 1
    energy_sensor_id: int | None = None
    timezone: str = "UTC"
    charging_mode_ids: list[int] = Field(default_factory=list)


@register_event
class EvseChanged(DomainEvent):
    asset_id: int
    changes: dict[str, Any]


EVSE_MUTABLE_FIELDS = frozenset(
    {"make", "model", "hardware_version", "firmware_version", "region_id", "max_power_kw", "phases",
     "energy_sensor_id", "timezone", "charging_mode_ids"}
)


@register_event
class AlgoWeightsSet(DomainEvent):
    """Weights (percent) of the charging algorithm's goals in a region for one 15-minute timeslot
    (``timeslot_id``: the slot's start in Unix seconds, as FINESCE keys timeslots)."""

    algoweight_id: int
    account_id: int
    region_id: int
    timeslot_id: int
    renewables: float = Field(ge=0, le=100)
    interconnect: float = Field(ge=0, le=100)
    specific: float = Field(ge=0, le=100)

    @field_validator("timeslot_id")
    @classmethod
    def _aligned(cls, value: int) -> int:
        if value % 900:
            raise ValueError("timeslot_id must be the Unix time of a 15-minute boundary")
        return value


@register_event
class EvPluggedIn(_Aware):
    """An EV was connected to an EVSE: a charge session begins. State of charge in kWh, range in km."""

    session_id: uuid.UUID
    evse_asset_id: int
    at: datetime
    ev_id: int | None = None
    charging_mode_id: int | None = None
    soc_kwh: float | None = None
    range_km: float | None = None
    external_id: str | None = None


@register_event
class ChargingStarted(_Aware):
    session_id: uuid.UUID
    at: datetime


@register_event
class ChargingStopped(_Aware):
    session_id: uuid.UUID
    at: datetime
    reason: str | None = None


@register_event
class ConnectionStateChanged(_Aware):
    """Another state of the connection (one of :data:`CONNECTION_STATES`)."""

    session_id: uuid.UUID
    state: str
    at: datetime


@register_event
class EvPluggedOut(_Aware):
    """The EV was disconnected: the session ends. State of charge in kWh, range in km, when known."""

    session_id: uuid.UUID
    at: datetime
    soc_kwh: float | None = None
    range_km: float | None = None


@register_event
class StationMapped(DomainEvent):
    """An imported file's station (or site) name is this asset (and energy sensor), in stream
    ``evsestation-<account>-<station>``: re-imports find it instead of creating another."""

    asset_id: int
    sensor_id: int | None = None
    station: str


def session_stream(session_id: uuid.UUID) -> str:
    return f"evsession-{session_id}"


@dataclass(frozen=True)
class SessionState:
    """A charge session as its events left it."""

    plugged_in: EvPluggedIn
    state: str = "connected"
    ended_at: datetime | None = None


def evolve_session(state: SessionState | None, event: DomainEvent) -> SessionState | None:
    """One step of a session's state; fold with ``functools.reduce(evolve_session, events, None)``."""
    if isinstance(event, EvPluggedIn):
        return SessionState(event)
    if state is None:
        return None
    if isinstance(event, ChargingStarted):
        return SessionState(state.plugged_in, "charging")
    if isinstance(event, ChargingStopped):
        return SessionState(state.plugged_in, "connected")
    if isinstance(event, ConnectionStateChanged):
        return SessionState(state.plugged_in, event.state)
    if isinstance(event, EvPluggedOut):
        return SessionState(state.plugged_in, "not_connected", event.at)
    return state


def decide_session(state: SessionState | None, event: DomainEvent) -> list[DomainEvent]:
    """Rules of a session: one plug-in, nothing after plug-out, nothing before its start.

    Repeating the last step (a charger resending a message) decides nothing (idempotent).
    """
    if isinstance(event, EvPluggedIn):
        if state is not None:
            if state.plugged_in.evse_asset_id == event.evse_asset_id and state.plugged_in.at == event.at:
                return []
            raise EvDomainError("SESSION_EXISTS", f"session {event.session_id} already exists", "session_id")
        return [event]
    if state is None:
        raise EvDomainError("UNKNOWN_SESSION", f"no session {event.session_id}", "session_id")
    if state.ended_at is not None:
        if isinstance(event, EvPluggedOut) and event.at == state.ended_at:
            return []
        raise EvDomainError("SESSION_ENDED", f"session {event.session_id} has ended", "session_id")
    if event.at < state.plugged_in.at:
        raise EvDomainError("BEFORE_PLUG_IN", "the event is before the session's plug-in", "at")
    if isinstance(event, ConnectionStateChanged) and event.state not in CONNECTION_STATES:
        raise EvDomainError("INVALID_STATE", f"unknown state {event.state!r}", "state")
    return [event]


def decide_evse(asset: dict[str, Any] | None, event: EvseRegistered) -> EvseRegistered:
    """An EVSE must be an EVSE asset of the same account (``asset``: the registry row or ``None``)."""
    if asset is None:
        raise EvDomainError("UNRECOGNIZED_ASSET", f"no asset {event.asset_id}", "asset_id")
    if asset["asset_type"] not in EVSE_ASSET_TYPES:
        raise EvDomainError("NOT_AN_EVSE", f"asset {event.asset_id} is a {asset['asset_type']}", "asset_id")
    if asset["account_id"] != event.account_id:
        raise EvDomainError("INVALID_SENDER", "the asset belongs to another account", "asset_id")
    return event


# --- time-of-use split (Realto's t1..t4) -----------------------------------------------------


@dataclass(frozen=True)
class TimeOfUseRule:
    """Local hours ``[start_hour, end_hour)`` on ``weekdays`` (0 = Monday) belong to ``period``."""

    period: str
    start_hour: int
    end_hour: int
    weekdays: frozenset[int] = frozenset(range(7))


@dataclass(frozen=True)
class TimeOfUseSplit:
    """Which tariff period (``t1``..``t4``) an instant falls in; the first matching rule wins.

    The default: t1 weekday day (07-23), t2 weekday night, t3 weekend day, t4 weekend night,
    in the EVSE's local time.
    """

    rules: tuple[TimeOfUseRule, ...] = field(
        default_factory=lambda: (
            TimeOfUseRule("t1", 7, 23, frozenset(range(5))),
            TimeOfUseRule("t2", 0, 24, frozenset(range(5))),
            TimeOfUseRule("t3", 7, 23, frozenset({5, 6})),
        )
    )
    fallback: str = "t4"

    def period_of(self, epoch_s: int, timezone: str = "UTC") -> str:
        local = datetime.fromtimestamp(epoch_s, UTC).astimezone(ZoneInfo(timezone))
        for rule in self.rules:
            if local.weekday() in rule.weekdays and rule.start_hour <= local.hour < rule.end_hour:
                return rule.period
        return self.fallback


TARIFF_PERIODS = ("t1", "t2", "t3", "t4")
