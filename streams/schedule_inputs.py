"""What the scheduler needs to solve one trigger: the registry as of the trigger, plus rules.

:func:`request_for` turns a trigger event (a v3 :class:`ScheduleTriggered`, a v2.0
:class:`UdiEventPosted`, or a state-of-charge reading with its :class:`SocTrigger`) into a
:class:`ScheduleRequest`: the devices' power sensors, the effective flex-model (one dict per
device) and flex-context, the horizon on the devices' grid and the belief time.

Every registry fact (the devices' stored flex-models and sensors, the site's other devices, the
asset tree's flex-context) comes from a :class:`~domain.ports.registry.RegistryView`; the
scheduler passes the registry as of the trigger's position
(:class:`streams.registry_history.RegistryHistory`), so a replay decides the same way after an
asset was changed. The readings (prices, inflexible load) are read as known at the belief time
by :class:`streams.schedule_resolver.ReadModelResolver`.

Units: power kW (consumption positive), energy kWh, prices in the sensors' units (the core
converts them to EUR/MWh).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from domain.devices import (
    UDI_PLANNING_HORIZON,
    device_power_sensor,
    effective_flex_context,
    sibling_device_sensors,
    stored_device_flex_model,
    stored_devices,
    udi_flex_model,
)
from domain.events import RecordedEvent
from domain.grid import next_on_grid
from domain.jobs import JobRequested
from domain.ports.registry import RegistryView
from domain.registry import AssetRegistered, SensorRegistered
from domain.schedules import ScheduleTriggered, schedule_id_for
from domain.scheduling import soc_capacity_kwh
from domain.soc_readings import SocLink, SocOutput, SocReading
from domain.udi import SOC_UNITS, UdiError, UdiEventPosted, soc_in_kwh

INFLEXIBLE = "inflexible-device-sensors"
PRICE_FIELDS = ("consumption-price", "production-price", "consumption-price-sensor", "production-price-sensor")
__all__ = ["UDI_PLANNING_HORIZON", "ScheduleRequest", "SchedulingInputError", "SocTrigger", "request_for"]


class SchedulingInputError(ValueError):
    """The trigger cannot be scheduled with what the registry holds (``code`` is stable)."""

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


def request_for(registry: RegistryView, recorded: RecordedEvent, soc: SocTrigger | None = None) -> ScheduleRequest:
    """The schedule request of a trigger event (raises :class:`SchedulingInputError`).

    ``soc`` is given when ``recorded`` is a state-of-charge reading (``SensorDataRecorded``).
    """
    schedule_id = schedule_id_for(recorded.event_id)
    event = recorded.decode()
    if soc is not None:
        request = _from_soc_reading(registry, recorded, soc, schedule_id)
    elif isinstance(event, ScheduleTriggered):
        request = _from_trigger(registry, recorded, event, schedule_id)
    elif isinstance(event, UdiEventPosted):
        request = _from_udi(registry, recorded, event, schedule_id)
    else:
        raise TypeError(f"{recorded.type} does not trigger a schedule")
    request.soc_outputs = soc_outputs(registry, request)
    return request


def soc_outputs(registry: RegistryView, request: ScheduleRequest) -> dict[int, SocOutput]:
    """The state-of-charge sensors the devices' flex-models name, where the planned SoC can go.

    A sensor must exist, be in kWh, MWh or % (then the device needs a soc-max), and be
    instantaneous or have the schedule's resolution (a state of charge is a level: it is not split
    over finer steps); otherwise a note says why nothing is written to it.
    """
    found: dict[int, SocOutput] = {}
    for device in stored_devices(request.flex_model):
        soc_id, model = device.soc_sensor_id, device.fields
        if soc_id is None or device.sensor_id is None:
            continue
        sensor = registry.sensor(soc_id)
        resolution_s = int(request.resolution.total_seconds())
        capacity_kwh = soc_capacity_kwh(model)
        if (
            sensor is None
            or sensor.unit not in SOC_UNITS
            or sensor.event_resolution_s not in (0, resolution_s)
            or (sensor.unit == "%" and not capacity_kwh)
        ):
            request.notes.append(
                f"The planned state of charge is not written to sensor {soc_id}: it must exist, be in "
                f"{', '.join(SOC_UNITS)} (% needs the device's soc-max) and be instantaneous or have the "
                "schedule's resolution."
            )
            continue
        found[device.sensor_id] = SocOutput(sensor, capacity_kwh)
    return found


def _sensors(registry: RegistryView, ids: list[int]) -> dict[int, SensorRegistered]:
    found: dict[int, SensorRegistered] = {}
    for i, sensor_id in enumerate(ids):
        sensor = registry.sensor(sensor_id)
        if sensor is None:
            raise SchedulingInputError("UNRECOGNIZED_SENSOR", f"no sensor {sensor_id}", f"flex-model[{i}].sensor")
        found[sensor_id] = sensor
    return found


def _from_trigger(
    registry: RegistryView, recorded: RecordedEvent, event: ScheduleTriggered, schedule_id: uuid.UUID
) -> ScheduleRequest:
    """A v3 trigger carries its merged flex-model and flex-context (validated by the API)."""
    ids = [int(d["sensor"]) for d in event.flex_model]
    job = JobRequested(
        job_id=schedule_id, kind="schedule", asset_id=event.asset_id, sensor_id=event.sensor_id,
        params={"trigger": "api", "start": event.start.isoformat()},
    )  # fmt: skip
    return ScheduleRequest(
        schedule_id=schedule_id, trigger="api", asset_id=event.asset_id, udi_event_id=None,
        sensors=_sensors(registry, ids), flex_model=event.flex_model, flex_context=event.flex_context,
        start=event.start, end=event.start + event.duration, resolution=timedelta(seconds=event.resolution_s),
        belief_time=event.prior or recorded.metadata.recorded_at, job=job,
    )  # fmt: skip


def _from_udi(
    registry: RegistryView, recorded: RecordedEvent, event: UdiEventPosted, schedule_id: uuid.UUID
) -> ScheduleRequest:
    asset = registry.asset(event.asset_id)
    if asset is None:
        raise SchedulingInputError("UNRECOGNIZED_CONNECTION_GROUP", f"no asset {event.asset_id}", "event")
    sensors = _sensors(registry, [event.sensor_id])
    sensor = sensors[event.sensor_id]
    start = next_on_grid(event.datetime, sensor.event_resolution, sensor.timezone)
    context, notes = device_flex_context(registry, asset, event.sensor_id)
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


def device_flex_context(
    registry: RegistryView, asset: AssetRegistered, sensor_id: int
) -> tuple[dict[str, Any], list[str]]:
    """The flex-context of one device's schedule, and notes on what was added to it.

    The asset tree's flex-context, plus the other devices of the site as inflexible load, plus a
    flat price when none is named.
    """
    context = effective_flex_context(registry, asset.asset_id)
    notes = []
    inflexible = context.get(INFLEXIBLE, [])
    siblings = [s for s in sibling_device_sensors(registry, asset, sensor_id) if s not in inflexible]
    if siblings:
        context[INFLEXIBLE] = [*inflexible, *siblings]
        notes.append(f"The planned power of {len(siblings)} other device(s) on the site counts as inflexible load.")
    if not any(name in context for name in PRICE_FIELDS):
        context["consumption-price"] = "0 EUR/MWh"
        notes.append(
            "The flex-context names no consumption-price: a flat price was assumed (charge as soon as possible)."
        )
    return context, notes


def _soc_power_sensor(registry: RegistryView, asset: AssetRegistered, soc: SocTrigger) -> int:
    if soc.link.power_sensor_id is not None:
        return soc.link.power_sensor_id
    sensor = device_power_sensor(registry, asset)
    if sensor is None:
        raise SchedulingInputError(
            "UNRECOGNIZED_SENSOR",
            f"asset {asset.asset_id} names state-of-charge sensor {soc.reading.sensor_id} but no power sensor to "
            'schedule: add its "sensor" to the flex-model',
            "flex-model.sensor",
        )
    return sensor.sensor_id


def _soc_flex_model(asset: AssetRegistered, soc: SocTrigger, power_id: int, notes: list[str]) -> dict[str, Any]:
    """The stored flex-model, with the targets still ahead of the device's last UDI event, and the
    reading's state of charge (kWh)."""
    reading, last_udi = soc.reading, soc.last_udi
    stored = stored_device_flex_model(asset, power_id)
    try:
        soc_kwh = soc_in_kwh(reading.value, reading.unit, soc_capacity_kwh(stored), "state-of-charge")
    except UdiError as exc:
        raise SchedulingInputError(exc.code, f"sensor {reading.sensor_id}: {exc}", "state-of-charge") from exc
    if last_udi is not None and last_udi.sensor_id == power_id:
        model = udi_flex_model(asset, last_udi.model_copy(update={
            "targets": [t for t in last_udi.targets if t.datetime > reading.datetime],
        }))  # fmt: skip
        if model.get("soc-targets"):
            notes.append(f"The targets of UDI event {last_udi.udi_event_id} still ahead apply.")
    else:
        model = {**stored, "sensor": power_id}
    model["soc-at-start"] = f"{soc_kwh} kWh"
    return model


def _from_soc_reading(
    registry: RegistryView, recorded: RecordedEvent, soc: SocTrigger, schedule_id: uuid.UUID
) -> ScheduleRequest:
    reading = soc.reading
    asset = registry.asset(soc.link.asset_id)
    if asset is None:
        raise SchedulingInputError("UNRECOGNIZED_ASSET", f"no asset {soc.link.asset_id}", "state-of-charge")
    power_id = _soc_power_sensor(registry, asset, soc)
    sensors = _sensors(registry, [power_id])
    sensor = sensors[power_id]
    start = next_on_grid(reading.datetime, sensor.event_resolution, sensor.timezone)
    notes = [
        f"Planned from the state of charge {reading.value:g} {reading.unit} measured on sensor {reading.sensor_id} "
        f"at {reading.datetime.isoformat()}."
    ]
    model = _soc_flex_model(asset, soc, power_id, notes)
    context, context_notes = device_flex_context(registry, asset, power_id)
    job = JobRequested(
        job_id=schedule_id, kind="schedule", asset_id=asset.asset_id, sensor_id=power_id,
        params={"trigger": "reading", "sensor": reading.sensor_id},
    )  # fmt: skip
    return ScheduleRequest(
        schedule_id=schedule_id, trigger="reading", asset_id=asset.asset_id, udi_event_id=None,
        sensors=sensors, flex_model=[model], flex_context=context, start=start,
        end=start + UDI_PLANNING_HORIZON, resolution=sensor.event_resolution,
        belief_time=recorded.metadata.recorded_at, job=job, notes=notes + context_notes,
    )  # fmt: skip


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
