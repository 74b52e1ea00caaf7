"""Beliefs about sensor events (domain/beliefs.py): belief times, epoch conversions, resolutions.

The belief horizon is ``event end - belief time``: a horizon of 1 h means "formed an hour
before the event ended". Values here are kW (consumption positive) or kWh.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from domain.beliefs import (
    SensorDataRecorded,
    belief_times_us,
    fit_resolution,
    to_epoch_s,
    to_epoch_us,
    upsample,
)

T0 = datetime(2024, 5, 1, tzinfo=UTC)
US = 1_000_000
QUARTER = timedelta(minutes=15)


def event(n: int = 4, **kw) -> SensorDataRecorded:
    values = {"sensor_id": 1, "start": T0, "resolution_s": 900, "values": [1.0] * n, "unit": "kW",
              "source": "meter", "received_at": T0 + timedelta(hours=3)}
    return SensorDataRecorded(**{**values, **kw})


def us(moment: datetime) -> int:
    return to_epoch_us(moment)


def test_neither_prior_nor_horizon_means_the_arrival_time():
    assert belief_times_us(event()) == [us(T0 + timedelta(hours=3))] * 4


def test_prior_is_one_belief_time_for_all_values():
    prior = T0 - timedelta(days=1)
    assert belief_times_us(event(prior=prior)) == [us(prior)] * 4


def test_horizon_is_relative_to_each_event_end():
    # event i ends at T0 + (i + 1) * 15 min; belief formed 1 h before that
    expected = [us(T0 + (i + 1) * QUARTER - timedelta(hours=1)) for i in range(4)]
    assert belief_times_us(event(horizon_s=3600)) == expected


def test_negative_horizon_is_after_the_event_end():
    assert belief_times_us(event(n=2, horizon_s=-600)) == [
        us(T0 + QUARTER + timedelta(minutes=10)),
        us(T0 + 2 * QUARTER + timedelta(minutes=10)),
    ]


def test_prior_and_horizon_take_the_earliest_per_event():
    # horizon 30 min: event 0 -> T0 - 15 min, event 1 -> T0, event 2 -> T0 + 15 min, event 3 -> T0 + 30 min
    prior = T0 + timedelta(minutes=5)
    assert belief_times_us(event(prior=prior, horizon_s=1800)) == [
        us(T0 - QUARTER), us(T0), us(prior), us(prior),
    ]


def test_received_at_is_ignored_when_prior_or_horizon_is_given():
    late = event(received_at=T0 - timedelta(days=9), horizon_s=0)
    assert belief_times_us(late) == [us(T0 + (i + 1) * QUARTER) for i in range(4)]


def test_epoch_conversions_respect_offsets_and_microseconds():
    moment = datetime(2024, 5, 1, 2, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert to_epoch_us(moment) == to_epoch_s(T0) * US + 123456
    assert to_epoch_s(moment) == int(T0.timestamp())
    before_epoch = datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC)
    assert to_epoch_us(before_epoch) == -500000
    assert to_epoch_s(before_epoch) == -1, "whole seconds round down"


@pytest.mark.parametrize("field", ["start", "prior", "received_at"])
def test_naive_datetimes_are_refused(field):
    with pytest.raises(ValidationError, match="timezone-aware"):
        event(**{field: datetime(2024, 5, 1)})


@pytest.mark.parametrize(
    ("n", "duration", "sensor", "expected"),
    [
        (4, timedelta(hours=1), QUARTER, (QUARTER, 1)),
        (2, timedelta(hours=1), QUARTER, (timedelta(minutes=30), 2)),
        (1, timedelta(hours=1), QUARTER, (timedelta(hours=1), 4)),
        (96, timedelta(days=1), QUARTER, (QUARTER, 1)),
        (3, timedelta(minutes=3), timedelta(0), (timedelta(minutes=1), 1)),
    ],
)
def test_fit_resolution(n, duration, sensor, expected):
    assert fit_resolution(n, duration, sensor) == expected


@pytest.mark.parametrize(
    ("n", "duration", "sensor", "message"),
    [
        (0, timedelta(hours=1), QUARTER, "no values"),
        (1, timedelta(0), QUARTER, "positive"),
        (1, -timedelta(hours=1), QUARTER, "positive"),
        (7, timedelta(hours=1), QUARTER, "whole seconds"),
        (3, timedelta(hours=1), QUARTER, "whole multiple"),  # 20 min on a 15-min sensor
        (8, timedelta(hours=1), QUARTER, "whole multiple"),  # 7.5 min: no downsampling on POST
    ],
)
def test_fit_resolution_refuses(n, duration, sensor, message):
    with pytest.raises(ValueError, match=message):
        fit_resolution(n, duration, sensor)


def test_upsample_splits_energy_and_repeats_other_quantities():
    assert upsample([4.0, None, 2.0], 2, is_energy=True) == [2.0, 2.0, None, None, 1.0, 1.0]
    assert upsample([4.0, None, -2.0], 2, is_energy=False) == [4.0, 4.0, None, None, -2.0, -2.0]
    assert upsample([1.5], 1, is_energy=True) == [1.5]
    assert upsample([], 3, is_energy=False) == []
