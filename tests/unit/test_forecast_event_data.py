"""The live forecaster builds its events' stored form directly (no pydantic model per forecast):
each builder must give exactly the dict the event model's ``to_data`` gives, so stored bytes,
hashes and replays are the same whichever way an event was made."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from pydantic import TypeAdapter

from domain.forecast_events import (
    LIVE_SOURCE,
    ForecastMade,
    compact_forecast_made_data,
    forecast_beliefs,
    forecast_beliefs_data,
    json_time,
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


def test_the_supported_countries_are_those_holidays_lists() -> None:
    import holidays

    from domain.forecast_events import supported_countries

    assert supported_countries() == frozenset(holidays.list_supported_countries())
    assert {"US", "USA", "NL", "GB", "UK"} <= supported_countries()
