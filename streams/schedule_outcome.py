"""What the scheduler appends for a solved request, and the checks before solving.

:func:`computed_event` turns a :class:`~domain.scheduling.ScheduleResult` into the
``ScheduleComputed`` event (power in kW, consumption positive; state of charge in kWh);
:func:`check_devices` and :func:`asset_types` read the request's devices as of the trigger.
"""

from __future__ import annotations

import math

from domain.devices import DeviceError, check_schedulable
from domain.ports.registry import RegistryView
from domain.schedules import DeviceSchedule, ScheduleComputed, UnmetConstraint
from domain.scheduling import ScheduleResult
from streams.schedule_inputs import ScheduleRequest, SchedulingInputError


def check_devices(request: ScheduleRequest) -> None:
    """The schedule can be written to every device's power sensor (else SchedulingInputError)."""
    for i, sensor in enumerate(request.sensors.values()):
        try:
            check_schedulable(sensor, f"flex-model[{i}].sensor", request.resolution, request.start)
        except DeviceError as exc:
            raise SchedulingInputError(exc.code, str(exc), exc.field) from exc


def asset_types(registry: RegistryView, request: ScheduleRequest) -> dict[int, str]:
    """Each device's asset type (as of the trigger), by power sensor id: a one-way EVSE never discharges
    unless its flex-model says so (:func:`domain.scheduling.parse_device`)."""
    types = {}
    for sensor_id, sensor in request.sensors.items():
        asset = registry.asset(sensor.asset_id)
        if asset is not None:
            types[sensor_id] = asset.asset_type
    return types


def computed_event(request: ScheduleRequest, result: ScheduleResult) -> ScheduleComputed:
    """The ``ScheduleComputed`` event of a solved request (values rounded to 1e-6 kW / kWh)."""
    devices = []
    for sensor_id in request.sensors:
        device = result.device(str(sensor_id))
        devices.append(
            DeviceSchedule(
                sensor_id=sensor_id,
                power_kw=[_clean(v) for v in device.power_kw],
                soc_kwh=[_clean(v) for v in device.soc_kwh],
            )
        )
    unmet = [
        UnmetConstraint(
            sensor_id=int(u.device_id) if u.device_id is not None else None,
            constraint=u.kind,
            datetime=u.datetime,
            amount=_clean(u.unmet_kwh),
            unit="kWh",
            message=f"required {_clean(u.required_kwh):g} kWh, achieved {_clean(u.achieved_kwh):g} kWh",
        )
        for u in result.unmet
    ]
    notes = list(request.notes)
    if result.soft_fallback:
        notes.append("Hard limits (soc-min/soc-max or site capacity) could not all be kept; see the unmet constraints.")
    return ScheduleComputed(
        schedule_id=request.schedule_id, trigger=request.trigger, asset_id=request.asset_id,
        udi_event_id=request.udi_event_id, start=result.start, resolution_s=int(result.resolution.total_seconds()),
        devices=devices, cost_eur=_clean(result.total_cost_eur), unmet=unmet, solver_status=result.status,
        mip_gap=result.mip_gap if math.isfinite(result.mip_gap) else None, notes=notes,
    )  # fmt: skip


def _clean(value: float) -> float:
    """Round solver noise away (1e-6) and turn -0.0 into 0.0."""
    rounded = round(float(value), 6)
    return rounded + 0.0
