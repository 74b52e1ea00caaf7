"""OCPP charger events -> charge-session events and per-interval energy. Pure (no I/O).

:func:`step` folds one :mod:`domain.chargers` event of a charger into its per-connector state
and says what it means for the EV domain (:mod:`domain.ev`):

==============================  ==========================================================
charger event                   session events
==============================  ==========================================================
Preparing, StartTransaction     ``EvPluggedIn`` (when no session is open on the connector)
Charging                        ``ChargingStarted`` (``EvPluggedIn`` first when none is open)
SuspendedEV, SuspendedEVSE      ``ConnectionStateChanged("suspended")``
Finishing, StopTransaction      ``ChargingStopped`` (when charging or suspended)
Available                       ``EvPluggedOut`` (when a session is open)
==============================  ==========================================================

Other statuses (Reserved, Unavailable, Faulted) and boots change no session; a repeated status
decides nothing. A status stamped before its session's plug-in (a charger clock going back) is
moved to the plug-in time, so the session's rules accept it.

Energy: the meter's cumulative register (Wh; StartTransaction's ``meter_start``, MeterValues'
``Energy.Active.Import.Register``, StopTransaction's ``meter_stop``) becomes energy per slot of
the metering sensor's resolution: the difference between consecutive values is spread over the
interval between them in proportion to time, and each slot the interval touches is reported with
its total so far (``EnergySlot``; a later value of the same slot replaces the earlier, so the
readings never add up twice). A value not later than the last one (a repeat, or an older message)
adds nothing; a value below the last one is a meter reset: the energy since the reset is the new
value. Energy in Wh, consumption positive; times timezone-aware.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType

from domain import chargers as ch
from domain import ev
from domain.events import DomainEvent

MAX_SPLIT_SLOTS = 2880
"""An interval over more slots than this (a charger silent for days) puts its energy in its last slot."""
OPENING = frozenset({"Preparing", "Charging", "SuspendedEV", "SuspendedEVSE"})


@dataclass(frozen=True)
class ConnectorState:
    """One connector: its open session (if any) and its meter register."""

    session_id: uuid.UUID | None = None
    plugged_at: datetime | None = None
    state: str = "not_connected"  # connected | charging | suspended while a session is open
    transaction_id: int | None = None
    register_wh: float | None = None
    register_at: datetime | None = None
    slot_start_s: int | None = None  # the latest slot energy was reported for ...
    slot_wh: float = 0.0  # ... and its total so far (Wh)


@dataclass(frozen=True)
class ChargerState:
    """The connectors of one charger (connector id -> state)."""

    connectors: Mapping[int, ConnectorState] = field(default_factory=lambda: MappingProxyType({}))

    def connector(self, connector_id: int) -> ConnectorState:
        return self.connectors.get(connector_id, ConnectorState())

    def with_connector(self, connector_id: int, state: ConnectorState) -> ChargerState:
        return ChargerState(MappingProxyType({**self.connectors, connector_id: state}))

    def connector_of(self, transaction_id: int) -> int | None:
        for connector_id, state in self.connectors.items():
            if state.transaction_id == transaction_id:
                return connector_id
        return None


@dataclass(frozen=True)
class EnergySlot:
    """The energy (Wh, consumption positive) metered in ``[start_s, start_s + resolution_s)`` so far."""

    start_s: int
    resolution_s: int
    energy_wh: float


@dataclass(frozen=True)
class ChargerStep:
    state: ChargerState
    session_events: list[DomainEvent]
    energy_slots: list[EnergySlot]


def step(state: ChargerState, event: DomainEvent, *, session_id: uuid.UUID, resolution_s: int) -> ChargerStep:
    """Fold ``event`` into ``state``; ``session_id`` names a session this event opens (deterministic
    ids make a retried call idempotent); ``resolution_s``: the metering sensor's (0: no energy)."""
    if isinstance(event, ch.ChargerStatusChanged):
        if event.connector_id == 0:  # the charger as a whole
            return ChargerStep(state, [], [])
        connector, events = _status(state.connector(event.connector_id), event, session_id)
        return ChargerStep(state.with_connector(event.connector_id, connector), events, [])
    if isinstance(event, ch.ChargingSessionStarted):
        connector, events = _open(
            state.connector(event.connector_id), event.asset_id, event.at, session_id, f"ocpp-tx-{event.transaction_id}"
        )
        connector = replace(connector, transaction_id=event.transaction_id)
        return _metered(state, event.connector_id, connector, events, event.at, event.meter_start_wh, resolution_s)
    if isinstance(event, ch.ChargingSessionStopped):
        connector_id = state.connector_of(event.transaction_id)
        if connector_id is None:
            return ChargerStep(state, [], [])
        connector, events = _stop(state.connector(connector_id), event.at, event.reason)
        connector = replace(connector, transaction_id=None)
        return _metered(state, connector_id, connector, events, event.at, event.meter_stop_wh, resolution_s)
    if isinstance(event, ch.EnergyRegisterRead):
        connector = state.connector(event.connector_id)
        return _metered(state, event.connector_id, connector, [], event.at, event.register_wh, resolution_s)
    return ChargerStep(state, [], [])


def _status(connector: ConnectorState, event: ch.ChargerStatusChanged, session_id: uuid.UUID):
    status, events = event.status, []
    if status in OPENING:
        connector, events = _open(connector, event.asset_id, event.at, session_id, None)
    if connector.session_id is None:
        return connector, events
    at = max(event.at, connector.plugged_at)
    if status == "Charging" and connector.state != "charging":
        events.append(ev.ChargingStarted(session_id=connector.session_id, at=at))
        connector = replace(connector, state="charging")
    elif status in ("SuspendedEV", "SuspendedEVSE") and connector.state != "suspended":
        events.append(ev.ConnectionStateChanged(session_id=connector.session_id, state="suspended", at=at))
        connector = replace(connector, state="suspended")
    elif status == "Finishing":
        connector, stopped = _stop(connector, at, None)
        events += stopped
    elif status == "Available":
        events.append(ev.EvPluggedOut(session_id=connector.session_id, at=at))
        connector = replace(connector, session_id=None, plugged_at=None, state="not_connected")
    return connector, events


def _open(connector: ConnectorState, asset_id: int, at: datetime, session_id: uuid.UUID, external_id: str | None):
    if connector.session_id is not None:
        return connector, []
    plugged_in = ev.EvPluggedIn(session_id=session_id, evse_asset_id=asset_id, at=at, external_id=external_id)
    return replace(connector, session_id=session_id, plugged_at=at, state="connected"), [plugged_in]


def _stop(connector: ConnectorState, at: datetime, reason: str | None):
    if connector.session_id is None or connector.state not in ("charging", "suspended"):
        return connector, []
    stopped = ev.ChargingStopped(session_id=connector.session_id, at=max(at, connector.plugged_at), reason=reason)
    return replace(connector, state="connected"), [stopped]


def _metered(
    state: ChargerState,
    connector_id: int,
    connector: ConnectorState,
    events: list[DomainEvent],
    at: datetime,
    register_wh: float,
    resolution_s: int,
) -> ChargerStep:
    connector, slots = register_read(connector, at, register_wh, resolution_s)
    return ChargerStep(state.with_connector(connector_id, connector), events, slots)


def register_read(connector: ConnectorState, at: datetime, register_wh: float, resolution_s: int):
    """(new state, slots whose totals changed) for the register showing ``register_wh`` at ``at``
    (a negative or non-finite value is no register value: ignored)."""
    if not math.isfinite(register_wh) or register_wh < 0:
        return connector, []
    if connector.register_at is not None and at <= connector.register_at:
        return connector, []  # a repeat, or older than what was counted
    moved = replace(connector, register_wh=register_wh, register_at=at)
    if connector.register_at is None or connector.register_wh is None or resolution_s <= 0:
        return moved, []  # the first value is the baseline
    delta_wh = register_wh - connector.register_wh if register_wh >= connector.register_wh else register_wh
    totals: dict[int, float] = {}
    for start_s, part_wh in split_interval(connector.register_at, at, delta_wh, resolution_s):
        base = connector.slot_wh if start_s == connector.slot_start_s else 0.0
        totals[start_s] = totals.get(start_s, base) + part_wh
    last = max(totals)
    slots = [EnergySlot(start_s, resolution_s, wh) for start_s, wh in sorted(totals.items())]
    return replace(moved, slot_start_s=last, slot_wh=totals[last]), slots


def split_interval(start: datetime, end: datetime, energy_wh: float, resolution_s: int) -> list[tuple[int, float]]:
    """``energy_wh`` metered over ``[start, end)`` spread over the slots it overlaps, in proportion
    to the overlap: ``[(slot start in Unix s, Wh), ...]`` (one slot, the last, beyond
    :data:`MAX_SPLIT_SLOTS`)."""
    start_s, end_s = start.timestamp(), end.timestamp()
    first = int(start_s // resolution_s) * resolution_s
    last = int((end_s - 1e-6) // resolution_s) * resolution_s  # the slot the interval ends in
    if (last - first) // resolution_s >= MAX_SPLIT_SLOTS:
        return [(last, energy_wh)]
    span_s = end_s - start_s
    parts = []
    for slot in range(first, last + 1, resolution_s):
        overlap_s = min(end_s, slot + resolution_s) - max(start_s, slot)
        parts.append((slot, energy_wh * overlap_s / span_s))
    return parts
