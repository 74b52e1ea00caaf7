"""v3 sensor data over HTTP: resampling (GET down, POST up), unit conversion, a real-data day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from test_api_support import ApiHarness

START = "2021-04-01T00:00:00Z"


@pytest.fixture
def api(tmp_path: Path):
    with ApiHarness(tmp_path) as harness:
        yield harness


def post(api: ApiHarness, sensor_id: int, values: list, duration: str, unit: str, start: str = START) -> None:
    body = {"start": start, "duration": duration, "unit": unit, "values": values}
    response = api.client.post(f"/api/v3_0/sensors/{sensor_id}/data", json=body, headers=api.auth())
    assert response.status_code == 200, response.text


def get(api: ApiHarness, sensor_id: int, duration: str, start: str = START, **params) -> dict:
    query = {"start": start, "duration": duration, **params}
    response = api.client.get(f"/api/v3_0/sensors/{sensor_id}/data", params=query, headers=api.auth())
    assert response.status_code == 200, response.text
    return response.json()


def test_downsampling_power_takes_the_mean(api: ApiHarness) -> None:
    sensor = api.sensor("CS 2/power")
    post(api, sensor, [1.0, 2.0, 3.0, 6.0, 10.0, 10.0, 0.0, 0.0], "PT2H", "kW")
    data = get(api, sensor, "PT2H", resolution="PT1H")
    assert data["values"] == [3.0, 5.0]
    assert data["resolution"] == "PT1H"


def test_downsampling_energy_takes_the_sum(api: ApiHarness) -> None:
    sensor = api.sensor("Meter/energy")
    post(api, sensor, [0.25, 0.5, 0.75, 1.0, 2.0, 2.0, 2.0, 2.0], "PT2H", "kWh")
    assert get(api, sensor, "PT2H", resolution="PT1H")["values"] == [2.5, 8.0]


def test_downsampling_leaves_empty_buckets_empty(api: ApiHarness) -> None:
    sensor = api.sensor("CS 2/power")
    post(api, sensor, [4.0, 8.0], "PT30M", "kW")
    assert get(api, sensor, "PT2H", resolution="PT1H")["values"] == [6.0, None]


def test_upsampling_power_on_post_repeats_values(api: ApiHarness) -> None:
    sensor = api.sensor("CS 2/power")
    post(api, sensor, [1.0, 3.0], "PT1H", "kW")  # 30-minute values to a 15-minute sensor
    assert get(api, sensor, "PT1H")["values"] == [1.0, 1.0, 3.0, 3.0]


def test_upsampling_energy_on_post_splits_values(api: ApiHarness) -> None:
    sensor = api.sensor("Meter/energy")
    post(api, sensor, [1.0, 3.0], "PT1H", "kWh")
    assert get(api, sensor, "PT1H")["values"] == [0.5, 0.5, 1.5, 1.5]


def test_power_units_convert_on_post_and_get(api: ApiHarness) -> None:
    sensor = api.sensor("CS 2/power")  # stored in kW
    post(api, sensor, [1000.0, 2500.0], "PT30M", "W")
    assert get(api, sensor, "PT30M")["values"] == [1.0, 2.5]
    assert get(api, sensor, "PT30M", unit="W")["values"] == [1000.0, 2500.0]
    mw = get(api, sensor, "PT30M", unit="MW")
    assert mw["unit"] == "MW"
    assert mw["values"] == pytest.approx([0.001, 0.0025])


def test_megawatt_sensor_takes_kilowatts(api: ApiHarness) -> None:
    sensor = api.sensor("CS 3/power")  # stored in MW
    post(api, sensor, [1500.0, -250.0], "PT30M", "kW")
    assert get(api, sensor, "PT30M")["values"] == pytest.approx([1.5, -0.25])
    assert get(api, sensor, "PT30M", unit="kW")["values"] == pytest.approx([1500.0, -250.0])


def test_energy_posted_to_a_power_sensor_becomes_mean_power(api: ApiHarness) -> None:
    sensor = api.sensor("CS 2/power")
    post(api, sensor, [0.25, 1.0], "PT30M", "kWh")  # kWh per 15 minutes
    assert get(api, sensor, "PT30M")["values"] == pytest.approx([1.0, 4.0])
    assert get(api, sensor, "PT30M", unit="kWh")["values"] == pytest.approx([0.25, 1.0])


def test_price_unit_conversion(api: ApiHarness) -> None:
    sensor = api.sensor("Prices/day-ahead")  # EUR/MWh, hourly
    post(api, sensor, [0.05, -0.01], "PT2H", "EUR/kWh")
    assert get(api, sensor, "PT2H")["values"] == pytest.approx([50.0, -10.0])


@pytest.mark.shared_data
def test_one_day_of_caltech_load_round_trips(api: ApiHarness, shared_data: Path) -> None:
    """One day of real ACN-Data (Caltech) charging load at 15 minutes: exact, then hourly means."""
    from infra.shared_data import load_acn_sessions, uncontrolled_load_kw

    day = datetime(2019, 6, 3, 7, tzinfo=UTC)  # local midnight in Pasadena (PDT)
    sessions = load_acn_sessions(shared_data / "acn" / "caltech_2019-05-01_2019-08-31.csv")
    load_kw = uncontrolled_load_kw(sessions, day, day + timedelta(days=1), timedelta(minutes=15))
    assert len(load_kw) == 96 and load_kw.max() > 0, "expected a working day with charging sessions"
    values = [float(v) for v in load_kw]
    sensor = api.sensor("CS 2/power")
    post(api, sensor, values, "P1D", "kW", start=day.isoformat())
    assert get(api, sensor, "P1D", start=day.isoformat())["values"] == values
    hourly = get(api, sensor, "P1D", start=day.isoformat(), resolution="PT1H")["values"]
    assert hourly == pytest.approx(list(load_kw.reshape(24, 4).mean(axis=1)))
    assert api.readings_count(sensor) == 96
    daily_mw = get(api, sensor, "P1D", start=day.isoformat(), resolution="P1D", unit="MW")["values"]
    assert daily_mw == pytest.approx([float(np.mean(load_kw)) / 1000])


def test_downsampling_an_instantaneous_level_takes_the_mean(api: ApiHarness) -> None:
    """A state of charge in kWh on an instantaneous sensor is a level: its values are not added up."""
    created = api.client.post(
        "/api/v3_0/sensors",
        json={"name": "state of charge", "unit": "kWh", "event_resolution": "PT0H",
              "generic_asset_id": api.asset("Meter")},
        headers=api.auth(),
    )  # fmt: skip
    assert created.status_code == 201, created.text
    sensor = created.json()["id"]
    post(api, sensor, [10.0, 11.0, 12.0, 20.0, 20.0, 23.0], "PT30M", "kWh")  # every 5 minutes
    assert get(api, sensor, "PT30M", resolution="PT15M")["values"] == [11.0, 21.0]
