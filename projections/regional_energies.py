"""Regional energies per 15-minute timeslot (FINESCE ``timeslots``, ``regionalenergies``,
``regionalaggevseenergies``), computed from the readings of the EVSEs of each region.

Consumes ``EvseRegistered``/``EvseChanged`` (region, metering sensor, max power) and
``SensorDataRecorded`` of those sensors. ``re_slots`` keeps the latest measured belief per
(sensor, event start) in kWh (power readings times the slot's hours; consumption positive,
production negative), so a repeated or late reading replaces its value; ``re_forecasts`` keeps
the forecaster's latest belief (``source_type`` ``forecaster``) the same way; schedules
(``scheduler``) are neither. ``re_energies`` holds, per (region, timeslot), over the region's
EVSEs' metering sensors:

* ``actual_energy_kwh`` — the net metered energy (the sum of the slots);
* ``generated_kwh`` — the production part: the sum of the negative slots (≤ 0, e.g. V2G);
* ``requested_kwh`` — the consumption part: the sum of the positive slots (≥ 0), so
  ``generated_kwh + requested_kwh == actual_energy_kwh``;
* ``forecasted_kwh`` — the sum of the forecaster's latest beliefs for the slots;
* ``max_possible_kwh`` — what the EVSEs could draw at full power over the timeslot,

recomputed for every timeslot a batch touched (an EVSE's change of region, sensor or maximum
power touches its regions' past timeslots too). Timeslot ids are the slot's start in Unix
seconds (multiples of 900). Readings finer than 15 minutes fall in the timeslot of their start.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from domain import ev
from domain.beliefs import SensorDataRecorded, belief_times_us, stored_sensor_id, to_epoch_s, to_epoch_us
from domain.events import RecordedEvent
from domain.schedules import SCHEDULER_SOURCE_TYPE
from domain.units import conversion_factor, is_energy_unit, is_power_unit

TIMESLOT_S = 900
metadata = sa.MetaData()
re_meters = sa.Table(
    "re_meters",
    metadata,
    sa.Column("asset_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("account_id", sa.Integer, nullable=False),
    sa.Column("region_id", sa.Integer),
    sa.Column("sensor_id", sa.Integer, index=True),
    sa.Column("max_power_kw", sa.Float),
)


def _latest_energy_per_slot(name: str) -> sa.Table:
    """A table of the latest belief per (sensor, event start): energy in kWh, belief time in µs."""
    return sa.Table(
        name,
        metadata,
        sa.Column("sensor_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("event_start", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("energy_kwh", sa.Float, nullable=False),
        sa.Column("belief_time", sa.BigInteger, nullable=False),
    )


re_slots = _latest_energy_per_slot("re_slots")
re_forecasts = _latest_energy_per_slot("re_forecasts")
re_energies = sa.Table(
    "re_energies",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("region_id", sa.Integer, nullable=False),
    sa.Column("timeslot_id", sa.BigInteger, nullable=False, index=True),
    sa.Column("account_id", sa.Integer, nullable=False, index=True),
    sa.Column("actual_energy_kwh", sa.Float, nullable=False),
    sa.Column("max_possible_kwh", sa.Float, nullable=False),
    sa.Column("generated_kwh", sa.Float, nullable=False, default=0.0),
    sa.Column("requested_kwh", sa.Float, nullable=False, default=0.0),
    sa.Column("forecasted_kwh", sa.Float, nullable=False, default=0.0),
    sa.Column("created_us", sa.BigInteger, nullable=False),
    sa.Column("updated_us", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("region_id", "timeslot_id"),
)


def _factor(unit: str, resolution_s: int) -> float | None:
    if is_energy_unit(unit):
        return conversion_factor(unit, "kWh")
    if is_power_unit(unit):
        return conversion_factor(unit, "kW") * resolution_s / 3600
    return None


def is_schedule(recorded: RecordedEvent) -> bool:
    """A ``SensorDataRecorded`` of the scheduler (``source_type`` scheduler), told from its stored data."""
    return recorded.type == "SensorDataRecorded" and recorded.data.get("source_type") == SCHEDULER_SOURCE_TYPE


class RegionalEnergiesProjection:
    """Per region and 15-minute timeslot: the EVSEs' metered energy and their maximum."""

    name = "regional_energies"
    event_types = frozenset({"EvseRegistered", "EvseChanged", "SensorDataRecorded"})
    metadata = metadata
    passes_over = staticmethod(is_schedule)
    """Schedules count nowhere here (forecasts do: ``forecasted_kwh``); :mod:`projections.base`."""

    def apply(self, conn: Connection, events: Sequence[RecordedEvent]) -> None:
        touched: dict[int, set[int]] = {}  # region -> timeslots
        meters: dict[int, list] = {}  # sensor -> its EVSE meters with a region, until an EVSE event changes them
        for recorded in events:
            if recorded.type != "SensorDataRecorded":
                meters.clear()
                _evse(conn, recorded.decode(), touched)
            elif _may_count(conn, recorded, meters):  # else not decoded: no EVSE's reading in a region, a schedule
                event = recorded.decode()
                if event.sensor_id not in meters:
                    meters[event.sensor_id] = conn.execute(_METERS_OF_SENSOR, {"sensor_id": event.sensor_id}).all()
                _readings(conn, event, meters[event.sensor_id], touched)
        at_us = to_epoch_us(events[-1].metadata.recorded_at) if events else 0
        for region_id, slots in touched.items():
            meters = conn.execute(sa.select(re_meters).where(re_meters.c.region_id == region_id)).mappings().all()
            for slot in sorted(slots):
                _recompute(conn, region_id, meters, slot, at_us)


def _evse(conn: Connection, event: ev.EvseRegistered | ev.EvseChanged, touched: dict[int, set[int]]) -> None:
    """Store an EVSE's meter (region, sensor, maximum power); a change touches its regions' timeslots."""
    if isinstance(event, ev.EvseRegistered):
        conn.execute(re_meters.delete().where(re_meters.c.asset_id == event.asset_id))
        conn.execute(
            re_meters.insert().values(
                asset_id=event.asset_id,
                account_id=event.account_id,
                region_id=event.region_id,
                sensor_id=event.energy_sensor_id,
                max_power_kw=event.max_power_kw,
            )
        )
        return
    changes = {k: v for k, v in event.changes.items() if k in ("region_id", "max_power_kw")}
    if "energy_sensor_id" in event.changes:
        changes["sensor_id"] = event.changes["energy_sensor_id"]
    if changes:
        _history(conn, event.asset_id, touched)  # the old region's timeslots
        conn.execute(re_meters.update().where(re_meters.c.asset_id == event.asset_id).values(**changes))
        _history(conn, event.asset_id, touched)  # the new region's


def _may_count(conn: Connection, recorded: RecordedEvent, meters: dict[int, list]) -> bool:
    """Whether a ``SensorDataRecorded`` may count, told from its stored data: False for a schedule
    (``source_type`` scheduler) or a sensor that meters no EVSE with a region (``meters``: the
    batch's look-ups, filled here)."""
    if is_schedule(recorded):
        return False
    sensor_id = stored_sensor_id(recorded.data)
    if sensor_id is None:
        return True  # decoding tells what is wrong with it
    if sensor_id not in meters:
        meters[sensor_id] = conn.execute(_METERS_OF_SENSOR, {"sensor_id": sensor_id}).all()
    return bool(meters[sensor_id])


def _history(conn: Connection, asset_id: int, touched: dict[int, set[int]]) -> None:
    """Touch every timeslot of the EVSE's region, and every timeslot its sensor has values in
    (an EVSE moved, re-metered or re-rated changes past figures too)."""
    meter = conn.execute(sa.select(re_meters).where(re_meters.c.asset_id == asset_id)).mappings().first()
    if meter is None or meter["region_id"] is None:
        return
    slots = touched.setdefault(meter["region_id"], set())
    slots.update(
        conn.execute(
            sa.select(re_energies.c.timeslot_id).where(re_energies.c.region_id == meter["region_id"])
        ).scalars()
    )
    for table in (re_slots, re_forecasts):
        starts = conn.execute(sa.select(table.c.event_start).where(table.c.sensor_id == meter["sensor_id"])).scalars()
        slots.update(start // TIMESLOT_S * TIMESLOT_S for start in starts)


_METERS_OF_SENSOR = sa.select(re_meters.c.region_id).where(
    re_meters.c.sensor_id == sa.bindparam("sensor_id"), re_meters.c.region_id.is_not(None)
)


def _readings(conn: Connection, event: SensorDataRecorded, meters: list, touched: dict[int, set[int]]) -> None:
    """Store the event's energies (``meters``: the sensor's EVSE meters with a region, rows of region ids)."""
    if not meters or event.source_type == "scheduler":
        return
    factor = _factor(event.unit, event.resolution_s)
    if factor is None:
        return
    table = re_forecasts if event.source_type == "forecaster" else re_slots
    start_s, step = to_epoch_s(event.start), event.resolution_s
    stored = dict(
        conn.execute(
            sa.select(table.c.event_start, table.c.belief_time).where(
                table.c.sensor_id == event.sensor_id,
                table.c.event_start >= start_s,
                table.c.event_start < start_s + step * len(event.values),
            )
        ).all()
    )
    beliefs = belief_times_us(event)
    inserts, updates, slots = [], [], set()
    for i, value in enumerate(event.values):
        slot = start_s + i * step
        if value is None or stored.get(slot, -1) > beliefs[i]:
            continue
        row = {"b_sensor": event.sensor_id, "b_start": slot, "b_energy": value * factor, "b_belief": beliefs[i]}
        (updates if slot in stored else inserts).append(row)
        stored[slot] = beliefs[i]
        slots.add(slot // TIMESLOT_S * TIMESLOT_S)
    if inserts:
        conn.execute(_insert(table), inserts)
    if updates:
        conn.execute(_update(table), updates)
    for meter in meters:
        touched.setdefault(meter.region_id, set()).update(slots)


def _insert(table: sa.Table):
    return table.insert().values(
        sensor_id=sa.bindparam("b_sensor"),
        event_start=sa.bindparam("b_start"),
        energy_kwh=sa.bindparam("b_energy"),
        belief_time=sa.bindparam("b_belief"),
    )


def _update(table: sa.Table):
    return (
        table.update()
        .where(table.c.sensor_id == sa.bindparam("b_sensor"), table.c.event_start == sa.bindparam("b_start"))
        .values(energy_kwh=sa.bindparam("b_energy"), belief_time=sa.bindparam("b_belief"))
    )


def _sums(conn: Connection, sensors: list[int], timeslot: int) -> dict[str, float]:
    """Net, production and consumption parts of the measured slots, and the forecast, in kWh."""
    energy = re_slots.c.energy_kwh
    in_slot = [
        re_slots.c.sensor_id.in_(sensors),
        re_slots.c.event_start >= timeslot,
        re_slots.c.event_start < timeslot + TIMESLOT_S,
    ]
    actual, generated, requested = conn.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(energy), 0.0),
            sa.func.coalesce(sa.func.sum(sa.case((energy < 0, energy), else_=0.0)), 0.0),
            sa.func.coalesce(sa.func.sum(sa.case((energy > 0, energy), else_=0.0)), 0.0),
        ).where(*in_slot)
    ).one()
    forecasted = conn.execute(
        sa.select(sa.func.coalesce(sa.func.sum(re_forecasts.c.energy_kwh), 0.0)).where(
            re_forecasts.c.sensor_id.in_(sensors),
            re_forecasts.c.event_start >= timeslot,
            re_forecasts.c.event_start < timeslot + TIMESLOT_S,
        )
    ).scalar_one()
    return {
        "actual_energy_kwh": float(actual),
        "generated_kwh": float(generated),
        "requested_kwh": float(requested),
        "forecasted_kwh": float(forecasted),
    }


def _recompute(conn: Connection, region_id: int, meters: Sequence, timeslot: int, at_us: int) -> None:
    """The figures of one region (whose EVSEs are ``meters``) in one timeslot."""
    sensors = [m["sensor_id"] for m in meters if m["sensor_id"] is not None]
    maximum = sum((m["max_power_kw"] or 0.0) for m in meters) * TIMESLOT_S / 3600
    key = (re_energies.c.region_id == region_id) & (re_energies.c.timeslot_id == timeslot)
    values = {**_sums(conn, sensors, timeslot), "max_possible_kwh": maximum, "updated_us": at_us}
    if conn.execute(sa.select(re_energies.c.id).where(key)).first():
        conn.execute(re_energies.update().where(key).values(**values))
    elif meters:
        conn.execute(
            re_energies.insert().values(
                region_id=region_id,
                timeslot_id=timeslot,
                account_id=meters[0]["account_id"],
                created_us=at_us,
                **values,
            )
        )
