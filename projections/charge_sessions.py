"""Charge sessions read model: plug-in/out events plus the EVSE's metered energy, per tariff period.

Consumes :mod:`domain.ev` session events (``EvPluggedIn``, ``ChargingStarted``, ``ChargingStopped``,
``ConnectionStateChanged``, ``EvPluggedOut``), ``EvseRegistered``/``EvseChanged`` (which sensor
meters an EVSE, its time zone) and ``SensorDataRecorded`` of those sensors (measurements only:
forecasts and schedules are ignored).

Tables:

* ``cs_meters`` — EVSE asset -> metering sensor, account and time zone;
* ``cs_slots`` — one row per (sensor, slot start in Unix s): ``energy_kwh`` (consumption
  positive; power readings become energy as ``power_kw * resolution_h``), the belief time of the
  value kept, its tariff period (t1..t4) and the session owning it. A repeated reading leaves the
  row as it is and a late correction replaces it (the latest belief wins), so energy is never
  counted twice;
* ``charge_sessions`` — one row per session, with its totals summed from its slots.

A slot ``[s, s + r)`` belongs to the EVSE's session with the latest start before ``s + r``, if
that session had not ended at ``s``. Every event that changes sessions or slots reassigns the
slots around it and recomputes the totals of the sessions involved, so the order in which
readings and session events arrive does not matter, and replay gives the same tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from domain import ev
from domain.beliefs import SensorDataRecorded, belief_times_us, to_epoch_s
from domain.events import RecordedEvent
from domain.source_types import NOT_MEASURED_SOURCE_TYPES, is_prediction_or_plan
from domain.units import conversion_factor, is_energy_unit, is_power_unit

metadata = sa.MetaData()
cs_meters = sa.Table(
    "cs_meters",
    metadata,
    sa.Column("asset_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("account_id", sa.Integer, nullable=False),
    sa.Column("sensor_id", sa.Integer, index=True),
    sa.Column("timezone", sa.String(64), nullable=False),
)
cs_slots = sa.Table(
    "cs_slots",
    metadata,
    sa.Column("sensor_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("event_start", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("resolution_s", sa.Integer, nullable=False),
    sa.Column("energy_kwh", sa.Float, nullable=False),
    sa.Column("belief_time", sa.BigInteger, nullable=False),
    sa.Column("period", sa.String(8), nullable=False),
    sa.Column("session_id", sa.String(36), index=True),
)
charge_sessions = sa.Table(
    "charge_sessions",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("evse_asset_id", sa.Integer, nullable=False),
    sa.Column("account_id", sa.Integer, nullable=False),
    sa.Column("ev_id", sa.Integer),
    sa.Column("charging_mode_id", sa.Integer),
    sa.Column("external_id", sa.String(255)),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("created_s", sa.BigInteger, nullable=False),
    sa.Column("updated_s", sa.BigInteger, nullable=False),
    sa.Column("start_s", sa.BigInteger, nullable=False),
    sa.Column("end_s", sa.BigInteger),
    sa.Column("state", sa.String(32), nullable=False),
    sa.Column("soc_start_kwh", sa.Float),
    sa.Column("soc_end_kwh", sa.Float),
    sa.Column("range_start_km", sa.Float),
    sa.Column("range_end_km", sa.Float),
    *(sa.Column(f"energy_{p}_kwh", sa.Float, nullable=False, default=0.0) for p in ev.TARIFF_PERIODS),
    sa.Column("energy_kwh", sa.Float, nullable=False, default=0.0),
)
sa.Index("ix_charge_sessions_evse_start", charge_sessions.c.evse_asset_id, charge_sessions.c.start_s)
sa.Index("ix_charge_sessions_account", charge_sessions.c.account_id, charge_sessions.c.position)

OPEN_END_S = 2**62
MARGIN_S = 86_400
"""Sessions starting up to a day after a slot window may own slots in it (coarse resolutions)."""


_SLOTS_IN = sa.select(cs_slots.c.event_start, cs_slots.c.belief_time).where(
    cs_slots.c.sensor_id == sa.bindparam("sensor_id"), cs_slots.c.event_start >= sa.bindparam("low"),
    cs_slots.c.event_start < sa.bindparam("high"))
_SLOT_UPDATE = cs_slots.update().where(
    cs_slots.c.sensor_id == sa.bindparam("b_sensor"), cs_slots.c.event_start == sa.bindparam("b_start")
).values(energy_kwh=sa.bindparam("b_energy"), belief_time=sa.bindparam("b_belief"),
         resolution_s=sa.bindparam("b_resolution"))
_OWNER_UPDATE = cs_slots.update().where(
    cs_slots.c.sensor_id == sa.bindparam("b_sensor"), cs_slots.c.event_start == sa.bindparam("b_start")
).values(session_id=sa.bindparam("b_owner"))
_SESSION_BY_ID = sa.select(charge_sessions).where(charge_sessions.c.id == sa.bindparam("sid"))
_METER_BY_ASSET = sa.select(cs_meters).where(cs_meters.c.asset_id == sa.bindparam("asset_id"))
_METERS_BY_SENSOR = sa.select(cs_meters).where(cs_meters.c.sensor_id == sa.bindparam("sensor_id"))


class _Batch:
    """What a batch touched: slot values to write and, per EVSE, the window to reassign."""

    def __init__(self) -> None:
        self.slots: dict[tuple[int, int], tuple[float, int, int, str]] = {}
        self.windows: dict[int, tuple[int, int, int]] = {}  # asset -> (sensor, low, high)
        self.sessions: dict[str, dict] = {}  # session rows as this batch leaves them
        self.new: set[str] = set()  # ... of which these are not stored yet
        self.meters: dict[int, dict | None] = {}

    def meter(self, conn: Connection, asset_id: int) -> dict | None:
        if asset_id not in self.meters:
            found = conn.execute(_METER_BY_ASSET, {"asset_id": asset_id}).mappings().first()
            self.meters[asset_id] = dict(found) if found else None
        return self.meters[asset_id]

    def touch(self, asset_id: int, sensor_id: int, low: int, high: int) -> None:
        _, old_low, old_high = self.windows.get(asset_id, (sensor_id, low, high))
        self.windows[asset_id] = (sensor_id, min(low, old_low), max(high, old_high))


class ChargeSessionsProjection:
    """Charge sessions with energy per tariff period (see the module docstring)."""

    name = "charge_sessions"
    event_types = frozenset(
        {"EvseRegistered", "EvseChanged", "EvPluggedIn", "ChargingStarted", "ChargingStopped",
         "ConnectionStateChanged", "EvPluggedOut", "SensorDataRecorded"}
    )
    metadata = metadata
    passes_over = staticmethod(is_prediction_or_plan)
    """Forecasts and schedules, no metered energy (:mod:`projections.base`)."""

    def __init__(self, split: ev.TimeOfUseSplit | None = None):
        self.split = split or ev.TimeOfUseSplit()

    def apply(self, conn: Connection, events: Sequence[RecordedEvent]) -> None:
        batch = _Batch()
        for recorded in events:
            if is_prediction_or_plan(recorded):
                continue  # a forecast or schedule: not decoded
            event = recorded.decode()
            if isinstance(event, SensorDataRecorded):
                self._readings(conn, event, batch)
            elif isinstance(event, ev.EvseRegistered | ev.EvseChanged):
                _write_slots(conn, batch)  # slot periods depend on the meter's time zone
                _write_sessions(conn, batch)
                _meter(conn, event)
                batch.meters.clear()
                _adopt_sessions(conn, event, batch)
            elif isinstance(event, ev.EvPluggedIn):
                self._plugged_in(conn, event, recorded, batch)
            else:
                _session_step(conn, event, recorded, batch)
        _write_slots(conn, batch)
        _write_sessions(conn, batch)
        for asset_id, (sensor_id, low, high) in batch.windows.items():
            _reassign(conn, asset_id, sensor_id, low, high)

    def _readings(self, conn: Connection, event: SensorDataRecorded, batch: _Batch) -> None:
        if event.source_type in NOT_MEASURED_SOURCE_TYPES:
            return  # a forecast or schedule
        meters = conn.execute(_METERS_BY_SENSOR, {"sensor_id": event.sensor_id}).mappings().all()
        factor = _to_kwh_factor(event.unit, event.resolution_s)
        if not meters or factor is None:
            return  # not an EVSE's meter, not energy/power
        start_s, step = to_epoch_s(event.start), event.resolution_s
        beliefs = belief_times_us(event)
        for i, value in enumerate(event.values):
            if value is None:
                continue
            key = (event.sensor_id, start_s + i * step)
            known = batch.slots.get(key)
            if known is None or known[1] <= beliefs[i]:  # the latest belief wins
                period = self.split.period_of(key[1], meters[0]["timezone"])
                batch.slots[key] = (value * factor, beliefs[i], step, period)
        for meter in meters:
            batch.touch(meter["asset_id"], event.sensor_id, start_s, start_s + step * len(event.values))

    def _plugged_in(self, conn: Connection, event: ev.EvPluggedIn, recorded: RecordedEvent, batch: _Batch) -> None:
        sid = str(event.session_id)
        if sid in batch.sessions or conn.execute(_SESSION_BY_ID, {"sid": sid}).first():
            return
        meter = batch.meter(conn, event.evse_asset_id)
        at_s, created_s = to_epoch_s(event.at), to_epoch_s(recorded.metadata.recorded_at)
        batch.sessions[sid] = dict(
            id=sid, evse_asset_id=event.evse_asset_id, account_id=meter["account_id"] if meter else 0,
            ev_id=event.ev_id, charging_mode_id=event.charging_mode_id, external_id=event.external_id,
            position=recorded.global_position, created_s=created_s, updated_s=created_s, start_s=at_s, end_s=None,
            state="connected", soc_start_kwh=event.soc_kwh, soc_end_kwh=None, range_start_km=event.range_km,
            range_end_km=None, **{f"energy_{p}_kwh": 0.0 for p in ev.TARIFF_PERIODS}, energy_kwh=0.0,
        )
        batch.new.add(sid)
        if meter is not None and meter["sensor_id"] is not None:
            batch.touch(event.evse_asset_id, meter["sensor_id"], at_s - MARGIN_S, OPEN_END_S)


def _session_step(conn: Connection, event, recorded: RecordedEvent, batch: _Batch) -> None:
    sid = str(event.session_id)
    row = batch.sessions.get(sid)
    if row is None:
        found = conn.execute(_SESSION_BY_ID, {"sid": sid}).mappings().first()
        if found is None:
            return
        row = batch.sessions[sid] = dict(found)
    row["updated_s"] = to_epoch_s(recorded.metadata.recorded_at)
    if isinstance(event, ev.EvPluggedOut):
        row.update(end_s=to_epoch_s(event.at), state="not_connected", soc_end_kwh=event.soc_kwh,
                   range_end_km=event.range_km)
        meter = batch.meter(conn, row["evse_asset_id"])
        if meter is not None and meter["sensor_id"] is not None:
            batch.touch(row["evse_asset_id"], meter["sensor_id"], row["start_s"] - MARGIN_S, OPEN_END_S)
    elif row["end_s"] is None:
        row["state"] = _state_after(event)


_STEP_FIELDS = ("updated_s", "end_s", "state", "soc_end_kwh", "range_end_km")
_SESSION_UPDATE = charge_sessions.update().where(charge_sessions.c.id == sa.bindparam("b_id")).values(
    **{name: sa.bindparam(f"b_{name}") for name in _STEP_FIELDS})


def _write_sessions(conn: Connection, batch: _Batch) -> None:
    new = [row for sid, row in batch.sessions.items() if sid in batch.new]
    changed = [{"b_id": sid, **{f"b_{n}": row[n] for n in _STEP_FIELDS}}
               for sid, row in batch.sessions.items() if sid not in batch.new]
    if new:
        conn.execute(charge_sessions.insert(), new)
    if changed:
        conn.execute(_SESSION_UPDATE, changed)
    batch.sessions.clear()
    batch.new.clear()


def _adopt_sessions(conn: Connection, event, batch: _Batch) -> None:
    """Sessions that arrived before their EVSE's registration (another log partition) get its
    account, and its slots are reassigned."""
    if not isinstance(event, ev.EvseRegistered):
        return
    conn.execute(charge_sessions.update().where(
        charge_sessions.c.evse_asset_id == event.asset_id, charge_sessions.c.account_id == 0
    ).values(account_id=event.account_id))
    if event.energy_sensor_id is not None:
        batch.touch(event.asset_id, event.energy_sensor_id, 0, OPEN_END_S)


def _write_slots(conn: Connection, batch: _Batch) -> None:
    """Insert new slots, update those whose kept belief is not newer (bulk statements)."""
    by_sensor: dict[int, list[int]] = {}
    for sensor_id, start in batch.slots:
        by_sensor.setdefault(sensor_id, []).append(start)
    inserts, updates = [], []
    for sensor_id, starts in by_sensor.items():
        params = {"sensor_id": sensor_id, "low": min(starts), "high": max(starts) + 1}
        stored = dict(conn.execute(_SLOTS_IN, params).all())
        for start in starts:
            energy, belief, resolution, period = batch.slots[(sensor_id, start)]
            if start not in stored:
                inserts.append({"sensor_id": sensor_id, "event_start": start, "energy_kwh": energy,
                                "belief_time": belief, "resolution_s": resolution, "period": period,
                                "session_id": None})
            elif stored[start] <= belief:
                updates.append({"b_sensor": sensor_id, "b_start": start, "b_energy": energy, "b_belief": belief,
                                "b_resolution": resolution})
    if inserts:
        conn.execute(cs_slots.insert(), inserts)
    if updates:
        conn.execute(_SLOT_UPDATE, updates)
    batch.slots.clear()


def _state_after(event) -> str:
    if isinstance(event, ev.ChargingStarted):
        return "charging"
    if isinstance(event, ev.ChargingStopped):
        return "connected"
    return event.state


def _meter(conn: Connection, event: ev.EvseRegistered | ev.EvseChanged) -> None:
    if isinstance(event, ev.EvseRegistered):
        conn.execute(cs_meters.delete().where(cs_meters.c.asset_id == event.asset_id))
        conn.execute(cs_meters.insert().values(asset_id=event.asset_id, account_id=event.account_id,
                                               sensor_id=event.energy_sensor_id, timezone=event.timezone))
        return
    changes = {k: v for k, v in event.changes.items() if k in ("timezone",)}
    if "energy_sensor_id" in event.changes:
        changes["sensor_id"] = event.changes["energy_sensor_id"]
    if changes:
        conn.execute(cs_meters.update().where(cs_meters.c.asset_id == event.asset_id).values(**changes))


def _to_kwh_factor(unit: str, resolution_s: int) -> float | None:
    """Multiplier turning a reading into kWh over its slot (power: times the slot's hours)."""
    if is_energy_unit(unit):
        return conversion_factor(unit, "kWh")
    if is_power_unit(unit):
        return conversion_factor(unit, "kW") * resolution_s / 3600
    return None


def _reassign(conn: Connection, asset_id: int, sensor_id: int, low_s: int, high_s: int) -> None:
    """Give each slot of ``sensor_id`` in ``[low_s, high_s)`` its owning session; recompute totals."""
    sessions = conn.execute(
        sa.select(charge_sessions.c.id, charge_sessions.c.start_s, charge_sessions.c.end_s)
        .where(charge_sessions.c.evse_asset_id == asset_id,
               charge_sessions.c.start_s < min(high_s + MARGIN_S, OPEN_END_S),
               sa.or_(charge_sessions.c.end_s.is_(None), charge_sessions.c.end_s > low_s))
        .order_by(charge_sessions.c.start_s, charge_sessions.c.id)
    ).all()
    slots = conn.execute(
        sa.select(cs_slots.c.event_start, cs_slots.c.resolution_s, cs_slots.c.session_id)
        .where(cs_slots.c.sensor_id == sensor_id, cs_slots.c.event_start >= low_s, cs_slots.c.event_start < high_s)
        .order_by(cs_slots.c.event_start)
    ).all()
    touched: set[str] = set()
    changes = []
    for slot in slots:
        owner = _owner(sessions, slot.event_start, slot.resolution_s)
        touched.update(s for s in (owner, slot.session_id) if s)  # values may have changed too
        if owner != slot.session_id:
            changes.append({"b_sensor": sensor_id, "b_start": slot.event_start, "b_owner": owner})
    if changes:
        conn.execute(_OWNER_UPDATE, changes)
    _recompute(conn, touched)


def _owner(sessions: Sequence, slot_s: int, resolution_s: int) -> str | None:
    owner = None
    for session in sessions:  # ordered by start
        if session.start_s >= slot_s + resolution_s:
            break
        owner = session
    if owner is None or (owner.end_s is not None and slot_s >= owner.end_s):
        return None
    return owner.id


def _recompute(conn: Connection, session_ids: set[str]) -> None:
    """Totals of sessions from their slots (kWh per tariff period and overall)."""
    ids = sorted(session_ids)
    for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
        sums: dict[str, dict[str, float]] = {sid: {} for sid in chunk}
        query = (sa.select(cs_slots.c.session_id, cs_slots.c.period, sa.func.sum(cs_slots.c.energy_kwh))
                 .where(cs_slots.c.session_id.in_(chunk)).group_by(cs_slots.c.session_id, cs_slots.c.period))
        for sid, period, total in conn.execute(query):
            sums[sid][period] = float(total or 0.0)
        rows = []
        for sid, by_period in sums.items():
            row = {f"b_{p}": by_period.get(p, 0.0) for p in ev.TARIFF_PERIODS}
            rows.append({**row, "b_total": sum(row.values()), "b_id": sid})
        conn.execute(_TOTALS_UPDATE, rows)


_TOTALS_UPDATE = charge_sessions.update().where(charge_sessions.c.id == sa.bindparam("b_id")).values(
    energy_kwh=sa.bindparam("b_total"), **{f"energy_{p}_kwh": sa.bindparam(f"b_{p}") for p in ev.TARIFF_PERIODS})


def iso_z(epoch_s: int | None) -> str | None:
    """``2023-11-07T05:31:56Z`` (UTC, whole seconds), as the Realto seed writes times."""
    if epoch_s is None:
        return None
    return datetime.fromtimestamp(epoch_s, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
