"""FlexMeasures API v2.0 over HTTP: refused messages get FlexMeasures' codes and store nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_api_support import ALICE, BOB, ApiHarness

from api.entity_address import NAMING_AUTHORITY

START = "2021-01-01T00:00:00Z"
CS1, CS2, METER, OTHER = "<CS 1>", "<CS 2>", "<Meter>", "<Other CS>"  # placeholders, resolved per test
PV = "<PV>"


@pytest.fixture
def api(tmp_path: Path):
    with ApiHarness(tmp_path, max_body_bytes=4096) as harness:
        yield harness


def resolve(api: ApiHarness, value):
    """Replace ``<asset name>`` placeholders by entity addresses (recursively)."""
    if isinstance(value, str) and value.startswith("<") and value.endswith(">"):
        return f"ea1.{NAMING_AUTHORITY}:{api.asset(value[1:-1])}"
    if isinstance(value, list):
        return [resolve(api, v) for v in value]
    if isinstance(value, dict):
        return {k: resolve(api, v) for k, v in value.items()}
    return value


GOOD = {
    "type": "PostMeterDataRequest",
    "connection": CS1,
    "values": [1, 2, 3, 4, 5, 6],
    "start": START,
    "duration": "PT1H30M",
    "unit": "MW",
}
BAD_POSTS = {
    "no type": ({"type": None}, "INVALID_MESSAGE_TYPE", "type"),
    "wrong type": ({"type": "GetMeterDataRequest"}, "INVALID_MESSAGE_TYPE", "type"),
    "no unit": ({"unit": None}, "INVALID_UNIT", "unit"),
    "unknown unit": ({"unit": "furlong"}, "INVALID_UNIT", "unit"),
    "energy unit": ({"unit": "MWh"}, "INVALID_UNIT", "unit"),
    "price unit": ({"unit": "EUR/MWh"}, "INVALID_UNIT", "unit"),
    "simulation name": ({"connection": "CS 1"}, "INVALID_DOMAIN", "connections[0]"),
    "bad date code": (
        {"connection": f"ea1.2021-13.{NAMING_AUTHORITY.split('.', 1)[1]}:1"},
        "INVALID_DOMAIN",
        "connections[0]",
    ),
    "no asset id": ({"connection": f"ea1.{NAMING_AUTHORITY}:"}, "INVALID_DOMAIN", "connections[0]"),
    "number as connection": ({"connection": 1}, "INVALID_DOMAIN", "connections[0]"),
    "unknown asset": ({"connection": f"ea1.{NAMING_AUTHORITY}:999"}, "UNRECOGNIZED_CONNECTION_GROUP", "connections[0]"),
    "another account's asset": ({"connection": OTHER}, "UNRECOGNIZED_CONNECTION_GROUP", "connections[0]"),
    "wrong owner": ({"connection": f"ea1.{NAMING_AUTHORITY}:2:1"}, "UNRECOGNIZED_CONNECTION_GROUP", "connections[0]"),
    "no connections": ({"connection": None}, "UNRECOGNIZED_CONNECTION_GROUP", "connections"),
    "empty connection": ({"connection": ["", CS1]}, "UNRECOGNIZED_CONNECTION_GROUP", "connections"),
    "no power sensor": ({"connection": METER}, "UNRECOGNIZED_ASSET", "connections[0]"),
    "no values": ({"values": None}, "PTUS_INCOMPLETE", "values"),
    "empty values": ({"values": []}, "PTUS_INCOMPLETE", "values"),
    "null value": ({"values": [1, 2, None, 4, 5, 6]}, "PTUS_INCOMPLETE", "values"),
    "text value": ({"values": [1, 2, "3", 4, 5, 6]}, "PTUS_INCOMPLETE", "values"),
    "naive start": ({"start": "2021-01-01T00:00:00"}, "INVALID_TIMEZONE", "start"),
    "no start": ({"start": None}, "INVALID_PERIOD", "start"),
    "bad start": ({"start": "new year"}, "INVALID_PERIOD", "start"),
    "bad duration": ({"duration": "90 minutes"}, "INVALID_PERIOD", "duration"),
    "zero duration": ({"duration": "PT0M"}, "INVALID_PERIOD", "duration"),
    "values do not divide the duration": ({"values": [1, 2, 3, 4, 5, 6, 7]}, "INVALID_RESOLUTION", "duration"),
    "finer than the sensor": ({"values": [1] * 12}, "INVALID_RESOLUTION", "duration"),
    "start off the sensor's grid": ({"start": "2021-01-01T00:05:00Z"}, "INVALID_PERIOD", "start"),
    "forecast horizon": ({"horizon": "PT6H"}, "INVALID_HORIZON", "horizon"),
    "repeating horizon": ({"horizon": "R/PT6H"}, "INVALID_HORIZON", "horizon"),
    "bad horizon": ({"horizon": "soon"}, "INVALID_HORIZON", "horizon"),
    "prior before the end": ({"prior": "2021-01-01T01:00:00Z"}, "INVALID_HORIZON", "prior"),
    "naive prior": ({"prior": "2021-01-02T00:00:00"}, "INVALID_TIMEZONE", "prior"),
    "bad prior": ({"prior": "tomorrow"}, "INVALID_DATETIME", "prior"),
    "production at a pure consumer": ({"values": [1, 2, 3, -4, 5, 6]}, "POWER_VALUE_TOO_SMALL", "values"),
    "consumption at a pure producer": ({"connection": PV}, "POWER_VALUE_TOO_BIG", "values"),
    "groups not a list of objects": ({"groups": ["x"]}, "UNRECOGNIZED_CONNECTION_GROUP", "groups[0]"),
    "empty groups": ({"groups": []}, "UNRECOGNIZED_CONNECTION_GROUP", "groups"),
}


def post(api: ApiHarness, message: dict, email: str = ALICE):
    body = {k: v for k, v in resolve(api, message).items() if v is not None}
    return api.client.post("/api/v2_0/postMeterData", json=body, headers=api.auth(email))


def assert_refused(response, status: int, code: str, field: str | None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert (body["type"], body["result"], body["status"]) == ("PostMeterDataResponse", "Rejected", code)
    assert body.get("field") == field
    assert body["message"]


@pytest.mark.parametrize("change, code, field", BAD_POSTS.values(), ids=BAD_POSTS.keys())
def test_bad_post_is_refused_and_stores_nothing(api: ApiHarness, change: dict, code: str, field: str) -> None:
    head = api.head()
    assert_refused(post(api, {**GOOD, **change}), 400, code, field)
    assert api.head() == head
    assert api.readings_count(api.sensor("CS 1/power")) == 0


def test_one_bad_group_refuses_the_whole_message(api: ApiHarness) -> None:
    message = {
        **GOOD,
        "connection": None,
        "groups": [
            {"connections": [CS1, CS2], "values": [1, 2, 3, 4, 5, 6]},
            {"connection": CS2, "values": [1, 2, 3]},
            {"connection": CS1, "values": [1, 2, 3, 4, 5, 6, 7]},
        ],
    }
    head = api.head()
    assert_refused(post(api, message), 400, "INVALID_RESOLUTION", "groups[2].duration")
    message["groups"][2] = {"connection": CS1, "values": [1, 2, 3], "unit": "kWh"}
    assert_refused(post(api, message), 400, "INVALID_UNIT", "groups[2].unit")
    message["groups"][2] = {"connection": OTHER, "values": [1, 2, 3]}
    assert_refused(post(api, message), 400, "UNRECOGNIZED_CONNECTION_GROUP", "groups[2].connections[0]")
    assert api.head() == head
    assert api.readings_count(api.sensor("CS 1/power")) == api.readings_count(api.sensor("CS 2/power")) == 0


def test_refused_sender_and_method(api: ApiHarness) -> None:
    head = api.head()
    assert_refused(post(api, {**GOOD, "connection": OTHER}, email=BOB), 403, "INVALID_SENDER", None)
    wrong_method = api.client.get("/api/v2_0/postMeterData", headers=api.auth())
    assert (wrong_method.status_code, wrong_method.json()["status"]) == (405, "INVALID_METHOD")
    get_as_post = api.client.post("/api/v2_0/getMeterData", json={}, headers=api.auth())
    assert (get_as_post.status_code, get_as_post.json()["status"]) == (405, "INVALID_METHOD")
    assert api.head() == head


def test_malformed_bodies(api: ApiHarness) -> None:
    head = api.head()
    headers = {**api.auth(), "Content-Type": "application/json"}
    broken = api.client.post("/api/v2_0/postMeterData", content=b'{"type": "PostMeterDataRequest",', headers=headers)
    assert_refused(broken, 400, "INVALID_JSON", "body")
    listed = api.client.post("/api/v2_0/postMeterData", json=[GOOD], headers=api.auth())
    assert_refused(listed, 400, "INVALID_REQUEST", "body")
    too_large = post(api, {**GOOD, "values": [1] * 2000, "duration": "PT500H"})
    assert (too_large.status_code, too_large.json()["status"]) == (413, "PAYLOAD_TOO_LARGE")
    assert api.head() == head


BAD_GETS = {
    "no type": ({"type": None}, "INVALID_MESSAGE_TYPE", "type"),
    "no unit": ({"unit": None}, "INVALID_UNIT", "unit"),
    "energy unit": ({"unit": "kWh"}, "INVALID_UNIT", "unit"),
    "no connection": ({"connection": None}, "UNRECOGNIZED_CONNECTION_GROUP", "connections"),
    "bad address": ({"connection": "CS 1"}, "INVALID_DOMAIN", "connections[0]"),
    "another account's asset": ({"connection": OTHER}, "UNRECOGNIZED_CONNECTION_GROUP", "connections[0]"),
    "no power sensor": ({"connection": METER}, "UNRECOGNIZED_ASSET", "connections[0]"),
    "naive start": ({"start": "2021-01-01T00:00:00"}, "INVALID_TIMEZONE", "start"),
    "bad duration": ({"duration": "long"}, "INVALID_PERIOD", "duration"),
    "duration not a multiple of the resolution": ({"resolution": "PT1H"}, "INVALID_PERIOD", "duration"),
    "resolution finer than the sensor": ({"resolution": "PT5M"}, "INVALID_RESOLUTION", "resolution"),
    "unparseable resolution": ({"resolution": "hourly"}, "INVALID_RESOLUTION", "resolution"),
    "bad horizon": ({"horizon": "R/PT1H"}, "INVALID_HORIZON", "horizon"),
    "naive prior": ({"prior": "2021-01-02T00:00:00"}, "INVALID_TIMEZONE", "prior"),
    "unknown user source": ({"source": "4242"}, "INVALID_SOURCE", "source"),
    "unknown source name": ({"source": "nobody"}, "INVALID_SOURCE", "source"),
}


@pytest.mark.parametrize("change, code, field", BAD_GETS.values(), ids=BAD_GETS.keys())
def test_bad_get_is_refused(api: ApiHarness, change: dict, code: str, field: str) -> None:
    params = {"type": "GetMeterDataRequest", "connection": CS1, "start": START, "duration": "PT1H30M", "unit": "MW"}
    params = {k: v for k, v in resolve(api, {**params, **change}).items() if v is not None}
    response = api.client.get("/api/v2_0/getMeterData", params=params, headers=api.auth())
    assert response.status_code == 400, response.text
    body = response.json()
    assert (body["type"], body["status"], body.get("field")) == ("GetMeterDataResponse", code, field)
