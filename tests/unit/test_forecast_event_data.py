"""The live forecaster builds its events' stored form directly (no pydantic model per forecast):
each builder must give exactly the dict the event model's ``to_data`` gives, so stored bytes,
hashes and replays are the same whichever way an event was made. The same for the ids: the
name-based ids are computed without ``uuid.uuid5`` but must be its very values."""

from __future__ import annotations

import math
import random
import uuid
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from pydantic import TypeAdapter

from domain.beliefs import to_epoch_us
from domain.event_forms import finite_floats, json_time, name_based_id
from domain.forecast_events import (
    FORECAST_NAMESPACE,
    LIVE_SOURCE,
    ForecastMade,
    compact_forecast_made_data,
    forecast_beliefs,
    forecast_beliefs_data,
    forecast_made_event_id,
    job_event_id,
    live_forecast_event_id,
)

MOMENTS = [
    datetime(2024, 1, 1, tzinfo=UTC),
    datetime(2024, 3, 31, 1, 0, 0, 500, tzinfo=UTC),
    datetime(2024, 1, 1, tzinfo=timezone(timedelta(0))),
    datetime(2024, 1, 1, 5, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=-3))),
    datetime(2024, 1, 1, tzinfo=ZoneInfo("Europe/London")),  # offset 0: written as Z
    datetime(2024, 7, 1, 12, 15, tzinfo=ZoneInfo("Europe/Amsterdam")),
    datetime(2024, 1, 1, tzinfo=timezone(timedelta(seconds=30))),  # pydantic drops the seconds
]


@pytest.mark.parametrize("moment", MOMENTS)
def test_json_time_is_the_events_json_form(moment: datetime) -> None:
    assert json_time(moment) == TypeAdapter(datetime).dump_python(moment, mode="json")


def _values(rnd: random.Random, n: int) -> list[float | None]:
    special = [None, math.nan, math.inf, -math.inf, 0.0, -0.0, 1, 5e-324, 1.7976931348623157e308]
    return [rnd.choice(special) if rnd.random() < 0.2 else rnd.uniform(-1e6, 1e6) for _ in range(n)]


@pytest.mark.parametrize("seed", range(5))
def test_forecast_beliefs_data_is_the_models_data(seed: int) -> None:
    rnd = random.Random(seed)
    for moment in MOMENTS:
        resolution = timedelta(minutes=rnd.choice([15, 60]))
        values = _values(rnd, rnd.choice([1, 48, 96]))
        for start in (moment, moment + resolution):  # the forecasts start at their belief time; others may not
            args = (7, "kW", start, resolution, values, moment, LIVE_SOURCE)
            assert forecast_beliefs_data(*args) == forecast_beliefs(*args).to_data()
            assert forecast_beliefs_data(7, "kW", start, resolution, tuple(values), moment, LIVE_SOURCE) == (
                forecast_beliefs(*args).to_data()
            )


def test_compact_forecast_made_data_is_the_models_data() -> None:
    for moment in MOMENTS:
        args = dict(sensor_id=3, belief_time=moment, start=moment, resolution_s=3600, n_values=48,
                    source=LIVE_SOURCE, learned=1234)  # fmt: skip
        assert compact_forecast_made_data(**args) == ForecastMade(**args).to_data()


def test_name_based_ids_are_uuid5s() -> None:
    rnd = random.Random(5)
    names = ["", "a", "é€😀", "forecast:1:0:forecaster:auto"]
    names += [rnd.randbytes(rnd.randrange(1, 80)).hex() for _ in range(2000)]
    for name in names:
        namespace = uuid.UUID(bytes=rnd.randbytes(16))
        assert name_based_id(namespace.bytes, name) == uuid.uuid5(namespace, name)
        assert name_based_id(FORECAST_NAMESPACE.bytes, name) == uuid.uuid5(FORECAST_NAMESPACE, name)
        assert str(name_based_id(namespace.bytes, name)) == str(uuid.uuid5(namespace, name))
    for moment in MOMENTS:
        for sensor_id in (1, 7, 123456):
            us = to_epoch_us(moment)
            assert live_forecast_event_id(sensor_id, moment) == uuid.uuid5(
                FORECAST_NAMESPACE, f"forecast:{sensor_id}:{us}:{LIVE_SOURCE}"
            )
            assert forecast_made_event_id(sensor_id, moment) == uuid.uuid5(
                FORECAST_NAMESPACE, f"forecast-made:{sensor_id}:{us}"
            )
    job = uuid.UUID("6a1f0c5e-2d0b-4b7e-9f51-0c6b1f2e3d4a")
    for what in ("trigger", "job-requested", "job-outcome", "beliefs-0", "beliefs-17"):
        assert job_event_id(job, what) == uuid.uuid5(job, what)


@pytest.mark.parametrize("seed", range(5))
def test_finite_floats_are_the_floats_of_the_finite_values(seed: int) -> None:
    """Also their type: an int value is stored as a float (``1.0``), as the event model stores it."""
    rnd = random.Random(seed)
    cases = [[], [1, 2], [0.5, 1e308, 1e308], [math.inf, -math.inf], [math.nan]]
    cases += [_values(rnd, rnd.choice([1, 48])) for _ in range(200)]
    cases += [[rnd.uniform(-1e6, 1e6) for _ in range(48)] for _ in range(50)]  # all finite: the usual case
    for values in cases:
        expected = [None if v is None or not math.isfinite(v) else float(v) for v in values]
        for given in (values, tuple(values)):
            assert [(type(v), v) for v in finite_floats(given)] == [(type(v), v) for v in expected]


def test_the_supported_countries_are_those_holidays_lists() -> None:
    import holidays

    from domain.forecast_events import supported_countries

    assert supported_countries() == frozenset(holidays.list_supported_countries())
    assert {"US", "USA", "NL", "GB", "UK"} <= supported_countries()
