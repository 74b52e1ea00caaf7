"""What the scheduler needs to solve one trigger, loaded from the read models.

:func:`request_for` turns a trigger event (a v3 :class:`ScheduleTriggered`, a v2.0
:class:`UdiEventPosted`, or a state-of-charge reading with its :class:`SocTrigger`) into a
:class:`ScheduleRequest`: the devices' power sensors, the
effective flex-model (one dict per device) and flex-context, the horizon on the devices' grid,
the belief time, and a sensor resolver for the pure core.

The resolver reads :func:`projections.readings_query.latest_values` as known at the belief
time (``prior``, else the trigger's recording time), so solving the same trigger again later
sees the same inputs. Price series with gaps are filled from the nearest known price (a note
says how many steps); a price sensor without any value in the horizon is an error.

Units: power kW (consumption positive), energy kWh, prices in the sensors' units (the core
converts them to EUR/MWh).
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import sqlalchemy as sa

from domain.beliefs import to_epoch_s
from domain.events import RecordedEvent
from domain.jobs import JobRequested
from domain.registry import SensorRegistered
from domain.schedules import ScheduleTriggered, schedule_id_for
from domain.scheduling import soc_capacity_kwh
from domain.scheduling.timeseries import TimeSeries
from domain.soc_readings import SOC_SENSOR_FIELD, SocLink, SocOutput, SocReading, soc_sensor_reference
from domain.udi import DEVICE_ASSET_TYPES, SOC_UNITS, UdiError, UdiEventPosted, soc_in_kwh
from domain.units import is_power_unit_or_false
from projections import registry_query as rq
from projections.readings_query import BeliefFilter, latest_values

UDI_PLANNING_HORIZON = timedelta(hours=48)
"""FlexMeasures' default planning horizon (FLEXMEASURES_PLANNING_HORIZON) for UDI events."""
INFLEXIBLE = "inflexible-device-sensors"
PRICE_FIELDS = ("consumption-price", "production-price", "consumption-price-sensor", "production-price-sensor")


class SchedulingInputError(ValueError):
    """The trigger cannot be scheduled with what the read models hold (``code`` is stable)."""

    def __init__(self, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.code, self.field = code, field


@dataclass
class ScheduleRequest:
    """Everything to build and solve one schedule; ``notes`` collects remarks for the result."""

    schedule_id: uuid.UUID
    trigger: str
    asset_id: int
    udi_event_id: int | None
    sensors: dict[int, SensorRegistered]
    flex_model: list[dict[str, Any]]
    flex_context: dict[str, Any]
    start: datetime
    end: datetime
    resolution: timedelta
    belief_time: datetime
    job: JobRequested
    notes: list[str] = field(default_factory=list)
    soc_outputs: dict[int, SocOutput] = field(default_factory=dict)
    """Per power sensor: the device's state-of-charge sensor, where the planned SoC is written."""

    @property
    def sensor_ids(self) -> list[int]:
        return list(self.sensors)


@dataclass(frozen=True)
class SocTrigger:
    """A state-of-charge reading that triggers a schedule (see :mod:`domain.soc_readings`).

    ``last_udi`` is the device's latest UDI event before the reading: its targets still ahead
    and its overrides (soc-min/max, roundtrip efficiency) still apply.
    """

    link: SocLink
    reading: SocReading
    last_udi: UdiEventPosted | None = None


def sensor_state(row: dict) -> SensorRegistered:
    """A registry row as the domain's sensor state."""
    return SensorRegistered(
        sensor_id=row["id"], asset_id=row["asset_id"], name=row["name"], unit=row["unit"],
        event_resolution_s=row["event_resolution_s"], timezone=row["timezone"], attributes=row["attributes"],
    )  # fmt: skip


def request_for(conn: sa.Connection, recorded: RecordedEvent, soc: SocTrigger | None = None) -> ScheduleRequest:
    """The schedule request of a trigger event (raises :class:`SchedulingInputError`).

    ``soc`` is given when ``recorded`` is a state-of-charge reading (``SensorDataRecorded``).
    """
    schedule_id = schedule_id_for(recorded.event_id)
    event = recorded.decode()
    if soc is not None:
        request = _from_soc_reading(conn, recorded, soc, schedule_id)
    elif isinstance(event, ScheduleTriggered):
        request = _from_trigger(conn, recorded, event, schedule_id)
    elif isinstance(event, UdiEventPosted):
        request = _from_udi(conn, recorded, event, schedule_id)
    else:
        raise TypeError(f"{recorded.type} does not trigger a schedule")
    request.soc_outputs = soc_outputs(conn, request)
    return request


def soc_outputs(conn: sa.Connection, request: ScheduleRequest) -> dict[int, SocOutput]:
    """The state-of-charge sensors the devices' flex-models name, where the planned SoC can go.

    A sensor must exist, be in kWh, MWh or % (then the device needs a soc-max), and be
    instantaneous or have the schedule's resolution (a state of charge is a level: it is not split
    over finer steps); otherwise a note says why nothing is written to it.
    """
    found: dict[int, SocOutput] = {}
    for model in request.flex_model:
        soc_id = soc_sensor_reference(model.get(SOC_SENSOR_FIELD))
        if soc_id is None or not isinstance(model.get("sensor"), int):
            continue
        row = rq.sensor_by_id(conn, soc_id)
        resolution_s = int(request.resolution.total_seconds())
        capacity_kwh = soc_capacity_kwh(model)
        if (
            row is None
            or row["unit"] not in SOC_UNITS
            or row["event_resolution_s"] not in (0, resolution_s)
            or (row["unit"] == "%" and not capacity_kwh)
        ):
            request.notes.append(
                f"The planned state of charge is not written to sensor {soc_id}: it must exist, be in "
                f"{', '.join(SOC_UNITS)} (% needs the device's soc-max) and be instantaneous or have the "
                "schedule's resolution."
            )
            continue
        found[model["sensor"]] = SocOutput(sensor_state(row), capacity_kwh)
    return found


def _sensors(conn: sa.Connection, ids: list[int]) -> dict[int, SensorRegistered]:
    found: dict[int, SensorRegistered] = {}
    for i, sensor_id in enumerate(ids):
        row = rq.sensor_by_id(conn, sensor_id)
        if row is None:
            raise SchedulingInputError("UNRECOGNIZED_SENSOR", f"no sensor {sensor_id}", f"flex-model[{i}].sensor")
        found[sensor_id] = sensor_state(row)
    return found


def _from_trigger(
    conn: sa.Connection, recorded: RecordedEvent, event: ScheduleTriggered, schedule_id: uuid.UUID
) -> ScheduleRequest:
    ids = [int(d["sensor"]) for d in event.flex_model]
    job = JobRequested(
        job_id=schedule_id, kind="schedule", asset_id=event.asset_id, sensor_id=event.sensor_id,
        params={"trigger": "api", "start": event.start.isoformat()},
    )  # fmt: skip
    return ScheduleRequest(
        schedule_id=schedule_id, trigger="api", asset_id=event.asset_id, udi_event_id=None,
        sensors=_sensors(conn, ids), flex_model=event.flex_model, flex_context=event.flex_context,
        start=event.start, end=event.start + event.duration, resolution=timedelta(seconds=event.resolution_s),
        belief_time=event.prior or recorded.metadata.recorded_at, job=job,
    )  # fmt: skip


def effective_flex_context(conn: sa.Connection, asset_id: int) -> dict[str, Any]:
    """The asset's flex-context, completed by its ancestors' (the nearest asset's field wins)."""
    chain: list[dict] = []
    seen: set[int] = set()
    current = rq.asset_by_id(conn, asset_id)
    while current is not None and current["id"] not in seen:
        seen.add(current["id"])
        chain.append(current)
        parent = current["parent_asset_id"]
        current = rq.asset_by_id(conn, parent) if parent is not None else None
    context: dict[str, Any] = {}
    for asset in reversed(chain):
        context.update(asset["flex_context"] or {})
    return context


def stored_device_flex_model(asset: dict, sensor_id: int) -> dict[str, Any]:
    """The flex-model stored on a device asset: a dict, or the list entry naming ``sensor_id``."""
    stored = asset.get("flex_model") or {}
    if isinstance(stored, list):
        stored = next((d for d in stored if isinstance(d, dict) and d.get("sensor") == sensor_id), {})
    model = dict(stored)
    if "power-capacity" not in model and "consumption-capacity" not in model:
        capacity_mw = (asset.get("attributes") or {}).get("capacity_in_mw")
        if isinstance(capacity_mw, int | float) and not isinstance(capacity_mw, bool):
            model["power-capacity"] = f"{capacity_mw} MW"
    return model


def udi_flex_model(asset: dict, event: UdiEventPosted) -> dict[str, Any]:
    """The device's stored flex-model with the UDI event's state of charge, targets and overrides."""
    model = stored_device_flex_model(asset, event.sensor_id)
    model["sensor"] = event.sensor_id
    model["soc-at-start"] = f"{event.soc_kwh} kWh"
    if event.targets:
        model["soc-targets"] = [
            {"datetime": t.datetime.isoformat(), "value": f"{t.value_kwh} kWh"} for t in event.targets
        ]
    if event.soc_min_kwh is not None:
        model["soc-min"] = f"{event.soc_min_kwh} kWh"
    if event.soc_max_kwh is not None:
        model["soc-max"] = f"{event.soc_max_kwh} kWh"
    if event.roundtrip_efficiency is not None:
        model["roundtrip-efficiency"] = event.roundtrip_efficiency
    return model


def udi_schedule_start(moment: datetime, resolution: timedelta, timezone: str = "UTC") -> datetime:
    """The first step boundary at or after the state-of-charge time, on the sensor's grid
    (multiples of the resolution from local midnight; UTC for resolutions over a day)."""
    if resolution > timedelta(days=1):
        step = resolution.total_seconds()
        return datetime.fromtimestamp(math.ceil(moment.timestamp() / step) * step, tz=moment.tzinfo)
    local = moment.astimezone(ZoneInfo(timezone))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    steps = math.ceil((local - midnight) / resolution)
    return (midnight + steps * resolution).astimezone(moment.tzinfo)


def _from_udi(
    conn: sa.Connection, recorded: RecordedEvent, event: UdiEventPosted, schedule_id: uuid.UUID
) -> ScheduleRequest:
    asset = rq.asset_by_id(conn, event.asset_id)
    if asset is None:
        raise SchedulingInputError("UNRECOGNIZED_CONNECTION_GROUP", f"no asset {event.asset_id}", "event")
    sensors = _sensors(conn, [event.sensor_id])
    sensor = sensors[event.sensor_id]
    start = udi_schedule_start(event.datetime, sensor.event_resolution, sensor.timezone)
    context, notes = device_flex_context(conn, asset, event.sensor_id)
    job = JobRequested(
        job_id=schedule_id, kind="schedule", asset_id=event.asset_id, sensor_id=event.sensor_id,
        params={"trigger": "udi", "event": event.address},
    )  # fmt: skip
    return ScheduleRequest(
        schedule_id=schedule_id, trigger="udi", asset_id=event.asset_id, udi_event_id=event.udi_event_id,
        sensors=sensors, flex_model=[udi_flex_model(asset, event)], flex_context=context, start=start,
        end=start + timedelta(seconds=event.horizon_s), resolution=sensor.event_resolution,
        belief_time=event.prior or recorded.metadata.recorded_at, job=job, notes=notes,
    )  # fmt: skip


def device_flex_context(conn: sa.Connection, asset: dict, sensor_id: int) -> tuple[dict[str, Any], list[str]]:
    """The flex-context of one device's schedule, and notes on what was added to it.

    The asset tree's flex-context, plus the other devices of the site as inflexible load, plus a
    flat price when none is named.
    """
    context = effective_flex_context(conn, asset["id"])
    notes = []
    siblings = [s for s in sibling_device_sensors(conn, asset, sensor_id) if s not in context.get(INFLEXIBLE, [])]
    if siblings:
        context[INFLEXIBLE] = [*context.get(INFLEXIBLE, []), *siblings]
        notes.append(f"The planned power of {len(siblings)} other device(s) on the site counts as inflexible load.")
    if not any(name in context for name in PRICE_FIELDS):
        context["consumption-price"] = "0 EUR/MWh"
        notes.append(
            "The flex-context names no consumption-price: a flat price was assumed (charge as soon as possible)."
        )
    return context, notes


def _from_soc_reading(
    conn: sa.Connection, recorded: RecordedEvent, soc: SocTrigger, schedule_id: uuid.UUID
) -> ScheduleRequest:
    reading, last_udi = soc.reading, soc.last_udi
    asset = rq.asset_by_id(conn, soc.link.asset_id)
    if asset is None:
        raise SchedulingInputError("UNRECOGNIZED_ASSET", f"no asset {soc.link.asset_id}", "state-of-charge")
    power_id = soc.link.power_sensor_id
    if power_id is None:
        row = rq.device_power_sensor(conn, asset)
        if row is None:
            raise SchedulingInputError(
                "UNRECOGNIZED_SENSOR",
                f"asset {asset['id']} names state-of-charge sensor {reading.sensor_id} but no power sensor to "
                'schedule: add its "sensor" to the flex-model',
                "flex-model.sensor",
            )
        power_id = row["id"]
    sensors = _sensors(conn, [power_id])
    sensor = sensors[power_id]
    stored = stored_device_flex_model(asset, power_id)
    try:
        soc_kwh = soc_in_kwh(reading.value, reading.unit, soc_capacity_kwh(stored), "state-of-charge")
    except UdiError as exc:
        raise SchedulingInputError(exc.code, f"sensor {reading.sensor_id}: {exc}", "state-of-charge") from exc
    start = udi_schedule_start(reading.datetime, sensor.event_resolution, sensor.timezone)
    notes = [
        f"Planned from the state of charge {reading.value:g} {reading.unit} measured on sensor {reading.sensor_id} "
        f"at {reading.datetime.isoformat()}."
    ]
    if last_udi is not None and last_udi.sensor_id == power_id:
        model = udi_flex_model(asset, last_udi.model_copy(update={
            "targets": [t for t in last_udi.targets if t.datetime > reading.datetime],
        }))  # fmt: skip
        if model.get("soc-targets"):
            notes.append(f"The targets of UDI event {last_udi.udi_event_id} still ahead apply.")
    else:
        model = {**stored, "sensor": power_id}
    model["soc-at-start"] = f"{soc_kwh} kWh"
    context, context_notes = device_flex_context(conn, asset, power_id)
    job = JobRequested(
        job_id=schedule_id, kind="schedule", asset_id=asset["id"], sensor_id=power_id,
        params={"trigger": "reading", "sensor": reading.sensor_id},
    )  # fmt: skip
    return ScheduleRequest(
        schedule_id=schedule_id, trigger="reading", asset_id=asset["id"], udi_event_id=None,
        sensors=sensors, flex_model=[model], flex_context=context, start=start,
        end=start + UDI_PLANNING_HORIZON, resolution=sensor.event_resolution,
        belief_time=recorded.metadata.recorded_at, job=job, notes=notes + context_notes,
    )  # fmt: skip


def sibling_device_sensors(conn: sa.Connection, asset: dict, own_sensor_id: int) -> list[int]:
    """Power sensors of the other devices (batteries, EVSEs) in the same asset tree (the site).

    A device's sensor is the ``sensor`` of its stored flex-model, else its power sensor named
    "power", else its only power sensor. Their latest beliefs — measurements, or the schedules
    computed for them — enter the site balance of a UDI schedule as inflexible load.
    """
    assets = {a["id"]: a for a in rq.list_assets(conn, asset["account_id"])}

    def root(asset_id: int) -> int:
        seen = set()
        while assets.get(asset_id, {}).get("parent_asset_id") in assets and asset_id not in seen:
            seen.add(asset_id)
            asset_id = assets[asset_id]["parent_asset_id"]
        return asset_id

    site = root(asset["id"])
    devices = [
        a
        for a in assets.values()
        if a["asset_type"] in DEVICE_ASSET_TYPES and a["id"] != asset["id"] and root(a["id"]) == site
    ]
    if not devices:
        return []
    by_asset: dict[int, list[dict]] = {}
    for sensor in rq.list_sensors(conn, account_id=asset["account_id"]):
        if is_power_unit_or_false(sensor["unit"]):
            by_asset.setdefault(sensor["asset_id"], []).append(sensor)
    found = []
    for device in devices:
        model = device["flex_model"] if isinstance(device["flex_model"], dict) else {}
        candidates = by_asset.get(device["id"], [])
        named = [s["id"] for s in candidates if s["name"].strip().lower() == "power"]
        if isinstance(model.get("sensor"), int) and not isinstance(model["sensor"], bool):
            found.append(model["sensor"])
        elif named or len(candidates) == 1:
            found.append(named[0] if named else candidates[0]["id"])
    return [s for s in found if s != own_sensor_id]


def price_sensor_ids(flex_context: dict[str, Any]) -> set[int]:
    """Ids of the sensors the flex-context uses as prices."""
    ids: set[int] = set()
    for name in PRICE_FIELDS:
        value = flex_context.get(name)
        if isinstance(value, dict) and "sensor" in value:
            value = value["sensor"]
        if isinstance(value, int) and not isinstance(value, bool):
            ids.add(value)
    return ids


class ReadModelResolver:
    """The core's sensor resolver: a sensor's latest beliefs over the horizon, as known at ``belief_time``.

    Prices (``price_ids``) with gaps are filled from the nearest known value; how many steps were
    filled is added to ``notes``. Other series keep NaN where nothing is known.
    """

    def __init__(self, conn: sa.Connection, request: ScheduleRequest):
        self.conn, self.request = conn, request
        self.price_ids = price_sensor_ids(request.flex_context)
        self.cache: dict[int, TimeSeries] = {}

    def __call__(self, sensor_id: int | str) -> TimeSeries:
        try:
            key = int(sensor_id)
        except (TypeError, ValueError) as exc:
            raise LookupError(f"sensor {sensor_id!r}") from exc
        if key not in self.cache:
            self.cache[key] = self._load(key)
        return self.cache[key]

    def _load(self, sensor_id: int) -> TimeSeries:
        row = rq.sensor_by_id(self.conn, sensor_id)
        if row is None:
            raise LookupError(f"sensor {sensor_id}")
        step_s = row["event_resolution_s"] or int(self.request.resolution.total_seconds())
        start_s = to_epoch_s(self.request.start) // step_s * step_s
        end_s = -(-to_epoch_s(self.request.end) // step_s) * step_s
        found = latest_values(self.conn, sensor_id, start_s, end_s, BeliefFilter(prior=self.request.belief_time))
        values = np.array([found.get(t, np.nan) for t in range(start_s, end_s, step_s)], dtype=float)
        if sensor_id in self.price_ids:
            values = self._fill_prices(sensor_id, values)
        start = datetime.fromtimestamp(start_s, tz=self.request.start.tzinfo)
        return TimeSeries(start, timedelta(seconds=step_s), values, row["unit"])

    def _fill_prices(self, sensor_id: int, values: np.ndarray) -> np.ndarray:
        missing = np.isnan(values)
        if not missing.any():
            return values
        if missing.all():
            raise SchedulingInputError(
                "UNKNOWN_PRICES", f"Prices unknown for planning window (sensor {sensor_id}).", "flex-context"
            )
        index = np.where(~missing, np.arange(len(values)), -1)
        np.maximum.accumulate(index, out=index)
        first = int(np.argmax(~missing))
        index[index < 0] = first
        self.request.notes.append(
            f"Prices of sensor {sensor_id} were missing for {int(missing.sum())} of {len(values)} steps; "
            "the nearest known price was used."
        )
        return values[index]
