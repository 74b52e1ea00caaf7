"""v3 sensor data over HTTP: exact round trips, idempotent re-posts, beliefs, filters."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from test_api_support import ALICE, CAROL, ApiHarness

START = "2021-03-01T00:00:00Z"


@pytest.fixture
def api(tmp_path: Path):
    with ApiHarness(tmp_path) as harness:
        yield harness


def post(api: ApiHarness, sensor_id: int, values: list, email: str = ALICE, **fields) -> dict:
    body = {"start": START, "duration": f"PT{15 * len(values)}M", "unit": "kW", "values": values, **fields}
    response = api.client.post(f"/api/v3_0/sensors/{sensor_id}/data", json=body, headers=api.auth(email))
    assert response.status_code == 200, response.text
    return response.json()


def get(api: ApiHarness, sensor_id: int, duration: str = "PT1H", email: str = ALICE, **params) -> dict:
    query = {"start": START, "duration": duration, **params}
    response = api.client.get(f"/api/v3_0/sensors/{sensor_id}/data", params=query, headers=api.auth(email))
    assert response.status_code == 200, response.text
    return response.json()


def test_round_trip_is_exact(api: ApiHarness) -> None:
    sensor = api.sensor("CS 2/power")
    values = [1.5, -2.25, 0.0, 3125.0, 1e-9, None, 7.0, -0.1]
    assert post(api, sensor, values) == {"message": "Request has been processed.", "status": "PROCESSED"}
    data = get(api, sensor, "PT2H")
    assert data == {
        "values": values,
        "start": "2021-03-01T00:00:00+00:00",
        "duration": "PT2H",
        "unit": "kW",
        "resolution": "PT15M",
    }


def test_round_trip_through_another_offset(api: ApiHarness) -> None:
    sensor = api.sensor("CS 2/power")
    post(api, sensor, [4.0, 5.0], start="2021-03-01T01:00:00+01:00")  # = START
    assert get(api, sensor, "PT30M")["values"] == [4.0, 5.0]


def test_repeated_identical_post_changes_nothing(api: ApiHarness) -> None:
    sensor = api.sensor("CS 2/power")
    post(api, sensor, [1.0, 2.0, 3.0, 4.0])
    rows, first = api.readings_count(sensor), get(api, sensor)
    post(api, sensor, [1.0, 2.0, 3.0, 4.0])
    post(api, sensor, [1.0, 2.0, 3.0, 4.0])
    assert get(api, sensor) == first
    assert api.readings_count(sensor) == rows == 4


def test_new_value_is_kept_beside_the_old_one(api: ApiHarness) -> None:
    sensor = api.sensor("CS 2/power")
    post(api, sensor, [1.0, 2.0, 3.0, 4.0], prior="2021-03-02T00:00:00Z")
    post(api, sensor, [1.0, 20.0, 3.0, 40.0], prior="2021-03-03T00:00:00Z")
    assert get(api, sensor)["values"] == [1.0, 20.0, 3.0, 40.0]
    assert get(api, sensor, prior="2021-03-02T12:00:00Z")["values"] == [1.0, 2.0, 3.0, 4.0]
    assert get(api, sensor, prior="2021-03-01T12:00:00Z")["values"] == [None] * 4
    assert api.readings_count(sensor) == 6  # two changed values added, unchanged ones not repeated


def test_arrival_time_is_the_belief_time_without_prior_or_horizon(api: ApiHarness) -> None:
    sensor = api.sensor("CS 2/power")
    post(api, sensor, [1.0, 2.0])
    between = datetime.now(UTC).isoformat()
    post(api, sensor, [10.0, 20.0])
    assert get(api, sensor, "PT30M")["values"] == [10.0, 20.0]
    assert get(api, sensor, "PT30M", prior=between)["values"] == [1.0, 2.0]


def test_horizon_filter_separates_forecasts_from_measurements(api: ApiHarness) -> None:
    sensor = api.sensor("CS 2/power")
    post(api, sensor, [5.0, 6.0], horizon="PT6H")  # forecasts, formed 6 h before each event's end
    post(api, sensor, [5.5, 6.5], horizon="-PT10M")  # measurements, 10 min after each event's end
    assert get(api, sensor, "PT30M")["values"] == [5.5, 6.5]
    assert get(api, sensor, "PT30M", horizon="PT1H")["values"] == [5.0, 6.0]
    assert get(api, sensor, "PT30M", horizon="-PT15M")["values"] == [5.5, 6.5]
    assert get(api, sensor, "PT30M", horizon="PT7H")["values"] == [None, None]


def test_prior_and_horizon_when_posting_take_the_earliest(api: ApiHarness) -> None:
    sensor = api.sensor("CS 2/power")
    # belief times: horizon gives 2021-02-28T18:15 / 18:30; the prior 2021-02-28T18:20 is earlier for the second
    post(api, sensor, [1.0, 2.0], horizon="PT6H", prior="2021-02-28T18:20:00Z")
    assert get(api, sensor, "PT30M", prior="2021-02-28T18:16:00Z")["values"] == [1.0, None]
    assert get(api, sensor, "PT30M", prior="2021-02-28T18:21:00Z")["values"] == [1.0, 2.0]


def test_source_filter(api: ApiHarness) -> None:
    sensor = api.sensor("CS 2/power")
    post(api, sensor, [1.0, 2.0], email=ALICE, prior="2021-03-02T00:00:00Z")
    post(api, sensor, [3.0, 4.0], email=CAROL, prior="2021-03-03T00:00:00Z")
    assert get(api, sensor, "PT30M")["values"] == [3.0, 4.0]
    assert get(api, sensor, "PT30M", source=ALICE)["values"] == [1.0, 2.0]
    assert get(api, sensor, "PT30M", source=CAROL)["values"] == [3.0, 4.0]
    assert get(api, sensor, "PT30M", source=[ALICE, CAROL])["values"] == [3.0, 4.0]
    assert get(api, sensor, "PT30M", source="nobody@nowhere.test")["values"] == [None, None]
