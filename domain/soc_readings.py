"""State-of-charge readings: measurements on a device's state-of-charge sensor trigger a schedule.

A device (a battery or EVSE asset) names its state-of-charge sensor in its stored flex-model
with FlexMeasures' field ``"state-of-charge": {"sensor": <id>}``, beside its power ``sensor``
(a list-form flex-model does so per device entry). A ``SensorDataRecorded`` event on that
sensor is a state-of-charge event, like a UDI event: the scheduler plans the device again from
the newest value in it.

Not every belief on the sensor is a state of charge the device reported. A reading triggers a
schedule only when it is

* a measurement: its source is not the platform's scheduler or forecaster
  (:data:`~domain.source_types.NOT_MEASURED_SOURCE_TYPES`) and the value was believed at or after its time;
* fresh: the value's time is at most :data:`SOC_READING_MAX_AGE` before the event was recorded,
  so importing history does not plan the past once per imported event.

The scheduler also writes the planned state of charge to that sensor (source ``scheduler``, see
:class:`SocOutput`); those beliefs are no measurement, so they trigger nothing.

All three tests use only the event itself, so replaying history decides the same way.
Values are in the sensor's unit (kWh, MWh or % of the device's ``soc-max``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.beliefs import SensorDataRecorded, belief_times_us, to_epoch_us
from domain.devices import SOC_SENSOR_FIELD as SOC_SENSOR_FIELD  # re-exported for the flex-model parser
from domain.devices import soc_sensor_reference as soc_sensor_reference
from domain.devices import stored_devices
from domain.registry import AssetRegistered, SensorRegistered
from domain.source_types import NOT_MEASURED_SOURCE_TYPES

SOC_READING_MAX_AGE = timedelta(hours=1)
"""A reading older than this when recorded (backfilled history) does not trigger a schedule."""


@dataclass(frozen=True, slots=True)
class SocLink:
    """A state-of-charge sensor's device: the asset, and its power sensor when the flex-model names it."""

    asset_id: int
    power_sensor_id: int | None


@dataclass(frozen=True, slots=True)
class SocOutput:
    """A device's state-of-charge sensor, where the scheduler writes the planned state of charge
    (as FlexMeasures does with ``state-of-charge``); ``capacity_kwh`` (the device's soc-max)
    converts kWh to % for sensors in %."""

    sensor: SensorRegistered
    capacity_kwh: float | None


@dataclass(frozen=True, slots=True)
class SocReading:
    """The newest state of charge in a reading: ``value`` in ``unit`` at ``datetime``."""

    sensor_id: int
    datetime: datetime
    value: float
    unit: str


def soc_links(asset: AssetRegistered | None) -> dict[int, SocLink]:
    """The state-of-charge sensors an asset's stored flex-model names, with their device."""
    if asset is None:
        return {}
    return {
        device.soc_sensor_id: SocLink(asset.asset_id, device.sensor_id)
        for device in stored_devices(asset.flex_model)
        if device.soc_sensor_id is not None
    }


def soc_reading_of(event: SensorDataRecorded, recorded_at: datetime) -> SocReading | None:
    """The newest measured value of ``event`` if it may trigger a schedule (see the module docstring)."""
    if event.source_type in NOT_MEASURED_SOURCE_TYPES:
        return None
    belief_us = belief_times_us(event)
    for i in range(len(event.values) - 1, -1, -1):
        value = event.values[i]
        if value is None:
            continue
        moment = event.start + timedelta(seconds=event.resolution_s * i)
        if belief_us[i] < to_epoch_us(moment):
            return None  # a forecast of the state of charge, not a measurement
        if recorded_at - moment > SOC_READING_MAX_AGE:
            return None
        return SocReading(event.sensor_id, moment, float(value), event.unit)
    return None
