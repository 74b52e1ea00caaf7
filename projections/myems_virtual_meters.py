"""Read model of virtual meters (MyEMS ``virtualmeters``; :mod:`domain.virtual_meters`): their
definitions and their values per interval (kWh), evaluated here as readings arrive.

It follows the registry topic (definitions) and the readings topic (``SensorDataRecorded``). It keeps
the latest measured belief (by belief time; forecasts and schedules are no meter readings, see
:mod:`domain.source_types`) of each input meter per interval in kWh (``myems_vm_inputs``, only
for meters some virtual meter uses) and re-evaluates the equation for every interval an event
touches, so late or corrected data changes the virtual meter too. A new definition is back-filled
from the readings read model. Idempotent on replay (upserts; the newest belief wins).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from domain import myems_meters as mm
from domain import virtual_meters as vm
from domain.beliefs import SensorDataRecorded, belief_times_us, stored_sensor_id, to_epoch_s
from domain.events import RecordedEvent
from domain.source_types import NOT_MEASURED_SOURCE_TYPES, is_prediction_or_plan
from domain.units import UnitError
from projections.readings import data_sources, readings
from projections.registry import sensors

metadata = sa.MetaData()
myems_virtual_meters = sa.Table(
    "myems_virtual_meters", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("account_id", sa.Integer, nullable=False, index=True),
    sa.Column("uuid", sa.String(36), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("definition", sa.JSON, nullable=False),
)
myems_vm_links = sa.Table(
    "myems_vm_links", metadata,
    sa.Column("virtual_meter_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("meter_id", sa.Integer, primary_key=True, autoincrement=False, index=True),
)
myems_vm_inputs = sa.Table(
    "myems_vm_inputs", metadata,
    sa.Column("meter_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("event_start", sa.BigInteger, primary_key=True, autoincrement=False),  # epoch s
    sa.Column("belief_time", sa.BigInteger, nullable=False),  # epoch us
    sa.Column("value_kwh", sa.Float, nullable=False),
)
myems_vm_values = sa.Table(
    "myems_vm_values", metadata,
    sa.Column("virtual_meter_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("event_start", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("value_kwh", sa.Float, nullable=False),
)
EVENTS = ("MyEmsVirtualMeterDefined", "MyEmsVirtualMeterRedefined", "MyEmsVirtualMeterDeleted", "SensorDataRecorded")


class MyEmsVirtualMetersProjection:
    name = "myems_virtual_meters"
    event_types = frozenset(EVENTS)
    metadata = metadata
    passes_over = staticmethod(is_prediction_or_plan)
    """Forecasts and schedules, no meter readings (:mod:`projections.base`)."""

    def apply(self, conn: Connection, events: Sequence[RecordedEvent]) -> None:
        linked: dict[int, list[int]] = {}  # meter -> its virtual meters, until a definition changes them
        for recorded in events:
            if recorded.type == "SensorDataRecorded" and _passed_over(conn, recorded, linked):
                continue
            event = recorded.decode()
            if isinstance(event, SensorDataRecorded):
                if event.sensor_id not in linked:
                    linked[event.sensor_id] = conn.execute(_LINKED, {"meter_id": event.sensor_id}).scalars().all()
                _record_inputs(conn, event, linked[event.sensor_id])
                continue
            linked.clear()
            if isinstance(event, vm.MyEmsVirtualMeterDeleted):
                for table in (myems_virtual_meters, myems_vm_links, myems_vm_values):
                    key = table.c.id if table is myems_virtual_meters else table.c.virtual_meter_id
                    conn.execute(table.delete().where(key == event.virtual_meter_id))
            else:
                _define(conn, event)


def _passed_over(conn: Connection, recorded: RecordedEvent, linked: dict[int, list[int]]) -> bool:
    """Whether a ``SensorDataRecorded`` is passed over undecoded, told from its stored data: a
    forecast or a schedule (no meter reading), or readings of a meter no virtual meter uses
    (``linked``: the batch's look-ups, filled here)."""
    if is_prediction_or_plan(recorded):
        return True
    sensor_id = stored_sensor_id(recorded.data)
    if sensor_id is None:
        return False  # decoding tells what is wrong with it
    if sensor_id not in linked:
        linked[sensor_id] = conn.execute(_LINKED, {"meter_id": sensor_id}).scalars().all()
    return not linked[sensor_id]


def _define(conn: Connection, event: vm.MyEmsVirtualMeterDefined | vm.MyEmsVirtualMeterRedefined) -> None:
    vm_id, definition = event.virtual_meter_id, event.definition
    if isinstance(event, vm.MyEmsVirtualMeterDefined):
        conn.execute(myems_virtual_meters.delete().where(myems_virtual_meters.c.id == vm_id))
        conn.execute(myems_virtual_meters.insert().values(id=vm_id, account_id=event.account_id, uuid=str(event.uuid),
                                                          name=definition.name, definition=definition.model_dump()))
    else:
        conn.execute(myems_virtual_meters.update().where(myems_virtual_meters.c.id == vm_id).values(
            name=definition.name, definition=definition.model_dump()))
    conn.execute(myems_vm_links.delete().where(myems_vm_links.c.virtual_meter_id == vm_id))
    meter_ids = sorted({v.meter_id for v in definition.expression.variables})
    for meter_id in meter_ids:
        conn.execute(myems_vm_links.insert().values(virtual_meter_id=vm_id, meter_id=meter_id))
        _backfill(conn, meter_id)
    conn.execute(myems_vm_values.delete().where(myems_vm_values.c.virtual_meter_id == vm_id))
    starts = conn.execute(sa.select(myems_vm_inputs.c.event_start).where(
        myems_vm_inputs.c.meter_id.in_(meter_ids)).distinct()).scalars().all()
    _evaluate(conn, vm_id, definition, starts)


def _backfill(conn: Connection, meter_id: int) -> None:
    """The meter's latest measured beliefs from the readings read model (kWh per interval)."""
    sensor = conn.execute(sa.select(sensors.c.unit, sensors.c.event_resolution_s).where(
        sensors.c.id == meter_id)).first()
    if sensor is None or not mm.is_meter_unit(sensor.unit):
        return
    factor = mm.kwh_factor(sensor.unit, sensor.event_resolution_s)
    measured = sa.select(data_sources.c.id).where(data_sources.c.type.not_in(sorted(NOT_MEASURED_SOURCE_TYPES)))
    rows = conn.execute(sa.select(readings.c.event_start, readings.c.belief_time, readings.c.value).where(
        readings.c.sensor_id == meter_id, readings.c.source_id.in_(measured.scalar_subquery())).order_by(
        readings.c.event_start, readings.c.belief_time))
    for start_s, belief_us, value in rows:
        _upsert_input(conn, meter_id, start_s, belief_us, value * factor)


def _upsert_input(conn: Connection, meter_id: int, start_s: int, belief_us: int, value_kwh: float) -> None:
    key = (myems_vm_inputs.c.meter_id == meter_id) & (myems_vm_inputs.c.event_start == start_s)
    known = conn.execute(sa.select(myems_vm_inputs.c.belief_time).where(key)).scalar()
    if known is not None and known > belief_us:
        return  # an older belief arriving late does not replace a newer one
    conn.execute(myems_vm_inputs.delete().where(key))
    conn.execute(myems_vm_inputs.insert().values(meter_id=meter_id, event_start=start_s, belief_time=belief_us,
                                                 value_kwh=value_kwh))


_LINKED = sa.select(myems_vm_links.c.virtual_meter_id).where(myems_vm_links.c.meter_id == sa.bindparam("meter_id"))


def _record_inputs(conn: Connection, event: SensorDataRecorded, linked: list[int]) -> None:
    """Record the event's energies for the virtual meters ``linked`` to its sensor and re-evaluate them."""
    if not linked:
        return
    try:
        factor = mm.kwh_factor(event.unit, event.resolution_s)
    except UnitError:
        return
    start_s, touched = to_epoch_s(event.start), []
    for i, (value, belief_us) in enumerate(zip(event.values, belief_times_us(event), strict=True)):
        if value is not None:
            _upsert_input(conn, event.sensor_id, start_s + i * event.resolution_s, belief_us, value * factor)
            touched.append(start_s + i * event.resolution_s)
    for vm_id in linked:
        row = conn.execute(sa.select(myems_virtual_meters.c.definition).where(
            myems_virtual_meters.c.id == vm_id)).scalar()
        if row is not None:
            _evaluate(conn, vm_id, vm.VirtualMeterDefinition.model_validate(row), touched)


def _evaluate(conn: Connection, vm_id: int, definition: vm.VirtualMeterDefinition, starts: Iterable[int]) -> None:
    variables = definition.expression.variables
    tree = vm.parse_equation(definition.expression.equation, {v.name for v in variables})
    for start_s in starts:
        found = dict(conn.execute(sa.select(myems_vm_inputs.c.meter_id, myems_vm_inputs.c.value_kwh).where(
            myems_vm_inputs.c.event_start == start_s,
            myems_vm_inputs.c.meter_id.in_([v.meter_id for v in variables]))).all())
        value = vm.evaluate(tree, {v.name: found[v.meter_id] for v in variables if v.meter_id in found})
        key = (myems_vm_values.c.virtual_meter_id == vm_id) & (myems_vm_values.c.event_start == start_s)
        conn.execute(myems_vm_values.delete().where(key))
        if value is not None:
            conn.execute(myems_vm_values.insert().values(virtual_meter_id=vm_id, event_start=start_s, value_kwh=value))


def virtual_meters(conn: Connection, account_id: int | None) -> list[dict]:
    query = sa.select(myems_virtual_meters).order_by(myems_virtual_meters.c.id)
    if account_id is not None:
        query = query.where(myems_virtual_meters.c.account_id == account_id)
    return [dict(r) for r in conn.execute(query).mappings()]


def virtual_meter_by_id(conn: Connection, vm_id: int) -> dict | None:
    row = conn.execute(sa.select(myems_virtual_meters).where(myems_virtual_meters.c.id == vm_id)).mappings().first()
    return dict(row) if row else None


def values_kwh(conn: Connection, vm_id: int, start_s: int, end_s: int) -> list[tuple[int, float]]:
    query = sa.select(myems_vm_values.c.event_start, myems_vm_values.c.value_kwh).where(
        myems_vm_values.c.virtual_meter_id == vm_id, myems_vm_values.c.event_start >= start_s,
        myems_vm_values.c.event_start < end_s).order_by(myems_vm_values.c.event_start)
    return [(int(s), float(v)) for s, v in conn.execute(query)]
