"""v3 sensor data over HTTP: bad input is a 4xx with a stable code and field, and stores nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_api_support import ApiHarness

MAX_BODY_BYTES = 4096
GOOD = {"start": "2021-05-01T00:00:00Z", "duration": "PT1H", "unit": "kW", "values": [1.0, 2.0, 3.0, 4.0]}


@pytest.fixture
def api(tmp_path: Path):
    with ApiHarness(tmp_path, max_body_bytes=MAX_BODY_BYTES) as harness:
        yield harness


BAD_POSTS = {
    "naive start": ({"start": "2021-05-01T00:00:00"}, 422, "UNPROCESSABLE_ENTITY", "start"),
    "naive prior": ({"prior": "2021-05-02T00:00:00"}, 422, "UNPROCESSABLE_ENTITY", "prior"),
    "unparseable start": ({"start": "yesterday"}, 422, "UNPROCESSABLE_ENTITY", "start"),
    "unparseable duration": ({"duration": "an hour"}, 422, "UNPROCESSABLE_ENTITY", "duration"),
    "missing duration": ({"duration": None}, 422, "UNPROCESSABLE_ENTITY", "duration"),
    "unknown unit": ({"unit": "furlong"}, 422, "INVALID_UNIT", "unit"),
    "incompatible unit": ({"unit": "EUR/MWh"}, 422, "INVALID_UNIT", "unit"),
    "values do not divide the duration": ({"values": [1.0, 2.0, 3.0]}, 422, "INVALID_RESOLUTION", "duration"),
    "finer than the sensor": ({"values": [1.0] * 8}, 422, "INVALID_RESOLUTION", "duration"),
    "no values": ({"values": []}, 422, "UNPROCESSABLE_ENTITY", "values"),
    "text value": ({"values": [1.0, "two", 3.0, 4.0]}, 422, "UNPROCESSABLE_ENTITY", "values.1"),
    "start not on the sensor's grid": ({"start": "2021-05-01T00:05:00Z"}, 422, "INVALID_START", "start"),
    "negative duration": ({"duration": "-PT1H"}, 422, "INVALID_RESOLUTION", "duration"),
}


@pytest.mark.parametrize("change, status, code, field", BAD_POSTS.values(), ids=BAD_POSTS.keys())
def test_bad_post_is_refused_and_stores_nothing(api: ApiHarness, change: dict, status: int, code: str, field: str):
    sensor = api.sensor("CS 2/power")
    body = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    head = api.head()
    response = api.client.post(f"/api/v3_0/sensors/{sensor}/data", json=body, headers=api.auth())
    assert response.status_code == status, response.text
    assert (response.json()["status"], response.json()["field"]) == (code, field)
    assert response.json()["message"]
    assert api.head() == head
    assert api.readings_count(sensor) == 0


def test_unknown_sensor_is_404_and_stores_nothing(api: ApiHarness) -> None:
    head = api.head()
    response = api.client.post("/api/v3_0/sensors/999/data", json=GOOD, headers=api.auth())
    assert response.status_code == 404
    assert response.json()["status"] == "UNRECOGNIZED_SENSOR"
    assert api.head() == head


def test_malformed_json_is_400(api: ApiHarness) -> None:
    sensor = api.sensor("CS 2/power")
    head = api.head()
    headers = {**api.auth(), "Content-Type": "application/json"}
    response = api.client.post(f"/api/v3_0/sensors/{sensor}/data", content=b'{"values": [1, 2,', headers=headers)
    assert response.status_code == 400
    assert (response.json()["status"], response.json()["field"]) == ("INVALID_JSON", "body")
    assert api.head() == head


def test_payload_over_the_size_limit_is_413(api: ApiHarness) -> None:
    sensor = api.sensor("CS 2/power")
    head = api.head()
    body = {**GOOD, "duration": "P12DT12H", "values": [1.0] * 1200}
    response = api.client.post(f"/api/v3_0/sensors/{sensor}/data", json=body, headers=api.auth())
    assert response.status_code == 413
    assert (response.json()["status"], response.json()["field"]) == ("PAYLOAD_TOO_LARGE", "body")
    assert api.head() == head
    assert api.readings_count(sensor) == 0


def test_streamed_payload_over_the_size_limit_is_413(api: ApiHarness) -> None:
    """Without a Content-Length header the limit is enforced while the body streams in."""
    sensor = api.sensor("CS 2/power")
    head = api.head()

    def chunks():
        yield b'{"values": ['
        for _ in range(2000):
            yield b"1.0, "
        yield b"1.0]}"

    headers = {**api.auth(), "Content-Type": "application/json"}
    response = api.client.post(f"/api/v3_0/sensors/{sensor}/data", content=chunks(), headers=headers)
    assert response.status_code == 413
    assert response.json()["status"] == "PAYLOAD_TOO_LARGE"
    assert api.head() == head


BAD_GETS = {
    "naive start": ({"start": "2021-05-01T00:00:00"}, 422, "UNPROCESSABLE_ENTITY", "start"),
    "unknown unit": ({"unit": "furlong"}, 422, "INVALID_UNIT", "unit"),
    "incompatible unit": ({"unit": "EUR/MWh"}, 422, "INVALID_UNIT", "unit"),
    "resolution finer than the sensor": ({"resolution": "PT5M"}, 422, "INVALID_RESOLUTION", "resolution"),
    "resolution not a multiple": ({"resolution": "PT20M"}, 422, "INVALID_RESOLUTION", "resolution"),
    "duration not a multiple": ({"duration": "PT50M"}, 422, "INVALID_DURATION", "duration"),
    "unparseable duration": ({"duration": "soon"}, 422, "INVALID_DURATION", "duration"),
    "naive prior": ({"prior": "2021-05-02T00:00:00"}, 422, "UNPROCESSABLE_ENTITY", "prior"),
}


@pytest.mark.parametrize("change, status, code, field", BAD_GETS.values(), ids=BAD_GETS.keys())
def test_bad_get_is_refused(api: ApiHarness, change: dict, status: int, code: str, field: str) -> None:
    sensor = api.sensor("CS 2/power")
    params = {"start": "2021-05-01T00:00:00Z", "duration": "PT1H", **change}
    response = api.client.get(f"/api/v3_0/sensors/{sensor}/data", params=params, headers=api.auth())
    assert response.status_code == status, response.text
    assert (response.json()["status"], response.json()["field"]) == (code, field)
