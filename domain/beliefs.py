"""Readings as beliefs (FlexMeasures docs, chapters 14-15; timely-beliefs).

A belief states a ``value`` for an event ``[event_start, event_start + resolution)``, held by a
``source`` since ``belief_time``. The belief horizon is how long before the event's *end* the
belief was formed: ``horizon = event_end - belief_time`` (positive: a forecast; negative: a
measurement after the fact).

On POST, belief times come from ``prior`` (one time for all values), ``horizon`` (relative to
each event's end), both (the earliest of the two, per event), or else the arrival time.
Values carry the sensor's unit; power is positive for consumption, negative for production.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import field_validator

from domain.events import DomainEvent, register_event, register_upcaster


@register_event
class SensorDataRecorded(DomainEvent):
    """Beliefs about consecutive events of one sensor, all from one source.

    ``values[i]`` (in the sensor's unit; ``None`` = no value) is about the event starting at
    ``start + i * resolution_s`` seconds. ``prior``/``horizon_s``/``received_at`` fix the belief
    times (see :func:`belief_times`).
    """

    schema_version = 2

    sensor_id: int
    start: datetime
    resolution_s: int
    values: list[float | None]
    unit: str
    source: str
    source_type: str = "user"
    prior: datetime | None = None
    horizon_s: int | None = None
    received_at: datetime

    @field_validator("start", "prior", "received_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("datetime must be timezone-aware")
        return value


@register_upcaster("SensorDataRecorded", 1)
def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """v1 had no ``source_type``; every v1 source was a user."""
    return {**data, "source_type": "user"}


def stored_sensor_id(data: dict[str, Any]) -> int | None:
    """The ``sensor_id`` of a ``SensorDataRecorded``'s stored data, read without decoding the event
    (``None`` when it is not an integer: only decoding can tell what is wrong then). Lets a
    projection pass over the readings of sensors it does not follow (every forecast, say) cheaply."""
    sensor_id = data.get("sensor_id")
    return sensor_id if type(sensor_id) is int else None


def belief_times_us(event: SensorDataRecorded) -> list[int]:
    """Belief time of each value, in microseconds since the Unix epoch (UTC)."""
    n = len(event.values)
    received_us = to_epoch_us(event.received_at)
    if event.prior is None and event.horizon_s is None:
        return [received_us] * n
    if event.horizon_s is None:  # a prior only (every forecast): one belief time for all values
        return [to_epoch_us(event.prior)] * n
    first_end_us = to_epoch_us(event.start) + event.resolution_s * 1_000_000
    step_us, horizon_us = event.resolution_s * 1_000_000, event.horizon_s * 1_000_000
    by_horizon = range(first_end_us - horizon_us, first_end_us - horizon_us + n * step_us, step_us)
    if event.prior is None:
        return list(by_horizon)
    prior_us = to_epoch_us(event.prior)
    return [min(prior_us, at) for at in by_horizon]


def to_epoch_us(moment: datetime) -> int:
    """Microseconds since the Unix epoch of a timezone-aware datetime."""
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def to_epoch_s(moment: datetime) -> int:
    """Whole seconds since the Unix epoch of a timezone-aware datetime."""
    delta = moment - EPOCH
    return delta.days * 86_400 + delta.seconds


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def upsample(values: list[float | None], factor: int, is_energy: bool) -> list[float | None]:
    """Repeat each value ``factor`` times; energy is split evenly, other quantities repeat."""
    out: list[float | None] = []
    for value in values:
        part = value / factor if (is_energy and value is not None) else value
        out.extend([part] * factor)
    return out


def fit_resolution(
    n_values: int, duration: timedelta, sensor_resolution: timedelta
) -> tuple[timedelta, int]:
    """Resolution implied by ``n_values`` over ``duration`` and the upsampling factor to the sensor's.

    Raises ``ValueError`` when the values do not divide the duration, or when the implied
    resolution is not a whole multiple of the sensor's resolution (no downsampling on POST).
    """
    if n_values == 0:
        raise ValueError("no values")
    if duration.total_seconds() <= 0:
        raise ValueError("duration must be positive")
    step_us = duration / timedelta(microseconds=1) / n_values
    if step_us != int(step_us) or int(step_us) % 1_000_000:
        raise ValueError(f"{n_values} values do not divide the duration {duration} into whole seconds")
    implied = timedelta(microseconds=int(step_us))
    if sensor_resolution.total_seconds() == 0:
        return implied, 1
    ratio = implied / sensor_resolution
    if ratio < 1 or ratio != int(ratio):
        raise ValueError(
            f"the implied resolution {implied} is not a whole multiple of the sensor's {sensor_resolution}"
        )
    return implied, int(ratio)
