"""Hostile input gets a 4xx (JSON, stable code, the field), never a 5xx, and never unbounded work.

Each class is refused by the one validation layer (``api.validation``, ``api.guards``,
``domain.units``), on both API versions: ids beyond 2**63-1 (paths, queries, bodies, ``ea1``
addresses), datetimes at the calendar's edges, unit strings pint cannot parse, NaN / Infinity /
1e309, requests that would write or read more readings than the configured limits, negative
GET durations and over-long URLs. A refused request appends nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_api_support import ALICE, ApiHarness

from api.entity_address import NAMING_AUTHORITY

BIG = 2**63
HUGE = 10**30
START = "2021-05-01T00:00:00Z"
EDGES = ("9999-12-31T23:00:00+00:00", "0001-01-01T00:00:00+01:00", "1000-01-01T00:00:00Z")
UNITS = ("(", "kW(", "?", "1/0", "kW**kW", "\u0000", "W" * 500)
LIMIT = 500


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    home = Path(tmp_path_factory.mktemp("hostile"))
    with ApiHarness(home, max_readings_per_request=LIMIT, max_readings_per_response=LIMIT) as harness:
        yield harness


def ea(asset: int | str, owner: int | str | None = None) -> str:
    return f"ea1.{NAMING_AUTHORITY}:{owner}:{asset}" if owner is not None else f"ea1.{NAMING_AUTHORITY}:{asset}"


def data(**changes) -> dict:
    return {"values": [1.0, 2.0, 3.0, 4.0], "start": START, "duration": "PT1H", "unit": "kW", **changes}


def v2_post(**changes) -> dict:
    return {"type": "PostMeterDataRequest", "connection": "<CS 2>", **data(unit="MW"), **changes}


def v2_get(**changes) -> dict:
    return {"type": "GetMeterDataRequest", "connection": "<CS 2>", "start": START, "duration": "PT1H", "unit": "MW",
            **changes}  # fmt: skip


def _resolve(api: ApiHarness, value):
    if isinstance(value, str) and value.startswith("<") and value.endswith(">"):
        return ea(api.asset(value[1:-1]))
    if isinstance(value, str):
        return value.replace("{CS2}", str(api.sensor("CS 2/power"))).replace("{A}", str(api.asset("CS 2")))
    if isinstance(value, dict):
        return {k: _resolve(api, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(api, v) for v in value]
    return value


CASES: dict[str, tuple[str, str, object, dict | None]] = {
    # ids beyond the SQL integer range
    "path sensor id": ("GET", f"/api/v3_0/sensors/{BIG}", None, None),
    "path asset id": ("GET", f"/api/v3_0/assets/{HUGE}", None, None),
    "path account id": ("GET", f"/api/v3_0/accounts/{BIG}", None, None),
    "path asset PATCH": ("PATCH", f"/api/v3_0/assets/{BIG}", {"name": "x"}, None),
    "path sensor DELETE": ("DELETE", f"/api/v3_0/sensors/{BIG}", None, None),
    "path data POST": ("POST", f"/api/v3_0/sensors/{BIG}/data", data(), None),
    "path data GET": ("GET", f"/api/v3_0/sensors/{BIG}/data", None, {"start": START, "duration": "PT1H"}),
    "path schedule GET": ("GET", f"/api/v3_0/sensors/{BIG}/schedules/latest", None, None),
    "path trigger": ("POST", f"/api/v3_0/assets/{BIG}/schedules/trigger", {"start": START}, None),
    "path forecast trigger": ("POST", f"/api/v3_0/sensors/{BIG}/forecasts/trigger", {}, None),
    "query account_id": ("GET", "/api/v3_0/sensors", None, {"account_id": BIG}),
    "query asset_id": ("GET", "/api/v3_0/sensors", None, {"asset_id": HUGE}),
    "query assets account_id": ("GET", "/api/v3_0/assets", None, {"account_id": BIG}),
    "query users account_id": ("GET", "/api/v3_0/users", None, {"account_id": BIG}),
    "body generic_asset_id": ("POST", "/api/v3_0/sensors", {"name": "x", "unit": "kW", "event_resolution": "PT15M",
                                                            "generic_asset_id": BIG}, None),
    "body parent_asset_id": ("POST", "/api/v3_0/assets", {"name": "x", "generic_asset_type_id": 1,
                                                          "parent_asset_id": BIG}, None),
    "body asset type": ("POST", "/api/v3_0/assets", {"name": "x", "generic_asset_type_id": HUGE}, None),
    "flex-context sensor": ("PATCH", "/api/v3_0/assets/{A}", {"flex_context": {"consumption-price": {"sensor": BIG}}},
                            None),
    "flex-model sensor": ("PATCH", "/api/v3_0/assets/{A}", {"flex_model": {"state-of-charge": {"sensor": HUGE}}},
                          None),
    "trigger flex-model sensor": ("POST", "/api/v3_0/assets/{A}/schedules/trigger",
                                  {"start": START, "flex-model": [{"sensor": BIG}]}, None),
    "forecast regressor": ("POST", "/api/v3_0/sensors/{CS2}/forecasts/trigger", {"config": {"regressors": [BIG]}},
                           None),
    "v2 connection asset": ("GET", "/api/v2_0/getMeterData", None, v2_get(connection=ea(BIG))),
    "v2 connection owner": ("GET", "/api/v2_0/getMeterData", None, v2_get(connection=ea(1, HUGE))),
    "v2 post connection": ("POST", "/api/v2_0/postMeterData", v2_post(connection=ea(BIG)), None),
    "v2 prognosis connection": ("GET", "/api/v2_0/getPrognosis", None,
                                {**v2_get(connection=ea(BIG)), "type": "GetPrognosisRequest"}),
    "v2 source user id": ("GET", "/api/v2_0/getMeterData", None, v2_get(source=str(BIG))),
    "v2 udi event ids": ("POST", "/api/v2_0/postUdiEvent", {"type": "PostUdiEventRequest", "value": 1, "unit": "kWh",
                         "event": f"ea1.2018-06.io.flexmeasures:1:{BIG}:{HUGE}:soc", "datetime": START}, None),
    "v2 device message ids": ("GET", "/api/v2_0/getDeviceMessage", None,
                              {"type": "GetDeviceMessageRequest", "event": f"ea1.2018-06.io.x:{BIG}:1:1:soc"}),
    # durations and periods
    "negative GET duration": ("GET", "/api/v3_0/sensors/{CS2}/data", None, {"start": START, "duration": "-PT1H"}),
    "zero GET duration": ("GET", "/api/v3_0/sensors/{CS2}/data", None, {"start": START, "duration": "PT0H"}),
    "giant duration": ("POST", "/api/v3_0/sensors/{CS2}/data", data(values=[1.0], duration="P1000000D"), None),
    "overflowing duration": ("POST", "/api/v3_0/sensors/{CS2}/data", data(duration="P99999999999D"), None),
    "giant GET duration": ("GET", "/api/v3_0/sensors/{CS2}/data", None, {"start": START, "duration": "P99999999D"}),
    "giant schedule window": ("GET", "/api/v3_0/sensors/{CS2}/schedules/latest", None, {"duration": "P99999999D"}),
    "giant v2 duration": ("GET", "/api/v2_0/getMeterData", None, v2_get(duration="P99999999D")),
}  # fmt: skip
for _i, _edge in enumerate(EDGES):
    CASES.update({
        f"edge {_i} data POST": ("POST", "/api/v3_0/sensors/{CS2}/data", data(start=_edge), None),
        f"edge {_i} data prior": ("POST", "/api/v3_0/sensors/{CS2}/data", data(prior=_edge), None),
        f"edge {_i} data GET": ("GET", "/api/v3_0/sensors/{CS2}/data", None, {"start": _edge, "duration": "PT1H"}),
        f"edge {_i} data GET prior": ("GET", "/api/v3_0/sensors/{CS2}/data", None,
                                      {"start": START, "duration": "PT1H", "prior": _edge}),
        f"edge {_i} trigger": ("POST", "/api/v3_0/assets/{A}/schedules/trigger", {"start": _edge}, None),
        f"edge {_i} forecast": ("POST", "/api/v3_0/sensors/{CS2}/forecasts/trigger", {"start": _edge}, None),
        f"edge {_i} forecast end": ("POST", "/api/v3_0/sensors/{CS2}/forecasts/trigger", {"end": _edge}, None),
        f"edge {_i} v2 POST": ("POST", "/api/v2_0/postMeterData", v2_post(start=_edge), None),
        f"edge {_i} v2 GET": ("GET", "/api/v2_0/getMeterData", None, v2_get(start=_edge)),
        f"edge {_i} v2 prior": ("GET", "/api/v2_0/getMeterData", None, v2_get(prior=_edge)),
    })  # fmt: skip
for _i, _unit in enumerate(UNITS):
    CASES.update({
        f"unit {_i} data POST": ("POST", "/api/v3_0/sensors/{CS2}/data", data(unit=_unit), None),
        f"unit {_i} data GET": ("GET", "/api/v3_0/sensors/{CS2}/data", None,
                                {"start": START, "duration": "PT1H", "unit": _unit}),
        f"unit {_i} sensor POST": ("POST", "/api/v3_0/sensors", {"name": "x", "unit": _unit, "event_resolution": "PT1H",
                                                                 "generic_asset_id": "{A}"}, None),
        f"unit {_i} sensor PATCH": ("PATCH", "/api/v3_0/sensors/{CS2}", {"unit": _unit}, None),
        f"unit {_i} schedule GET": ("GET", "/api/v3_0/sensors/{CS2}/schedules/latest", None, {"unit": _unit}),
        f"unit {_i} v2 POST": ("POST", "/api/v2_0/postMeterData", v2_post(unit=_unit), None),
        f"unit {_i} v2 GET": ("GET", "/api/v2_0/getMeterData", None, v2_get(unit=_unit)),
    })  # fmt: skip


@pytest.mark.parametrize("method, url, body, query", CASES.values(), ids=CASES.keys())
def test_hostile_input_is_a_json_4xx_and_stores_nothing(api: ApiHarness, method, url, body, query) -> None:
    head = api.head()
    response = api.client.request(
        method, _resolve(api, url), json=_resolve(api, body), params=_resolve(api, query), headers=api.auth(ALICE)
    )
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json()["status"] and response.json()["message"]
    assert api.head() == head


NON_FINITE = {"NaN": "NaN", "Infinity": "Infinity", "-Infinity": "-Infinity", "1e309": "1e309", "-1e400": "-1e400"}


@pytest.mark.parametrize("literal", NON_FINITE.values(), ids=NON_FINITE.keys())
def test_non_finite_values_are_422_naming_the_field(api: ApiHarness, literal: str) -> None:
    sensor, head = api.sensor("CS 2/power"), api.head()
    body = json.dumps(data()).replace("3.0", literal).encode()
    headers = {**api.auth(), "Content-Type": "application/json"}
    response = api.client.post(f"/api/v3_0/sensors/{sensor}/data", content=body, headers=headers)
    assert response.status_code == 422, response.text
    assert (response.json()["status"], response.json()["field"]) == ("INVALID_VALUE", "values.2")
    nested = json.dumps({"flex_model": {"soc-max": 1.5}}).replace("1.5", literal).encode()
    patched = api.client.patch(f"/api/v3_0/assets/{api.asset('CS 2')}", content=nested, headers=headers)
    assert (patched.status_code, patched.json()["field"]) == (422, "flex_model.soc-max")
    v2 = json.dumps(_resolve(api, v2_post())).replace("3.0", literal).encode()
    refused = api.client.post("/api/v2_0/postMeterData", content=v2, headers=headers)
    assert refused.status_code == 400, refused.text
    assert refused.json() | {"message": ""} == {
        "result": "Rejected", "status": "INVALID_VALUE", "field": "values.2", "message": "",
    }  # fmt: skip
    assert api.head() == head


def test_null_means_no_value_and_keeps_earlier_values(api: ApiHarness) -> None:
    sensor = api.sensor("CS 1/power")
    url = f"/api/v3_0/sensors/{sensor}/data"
    start = "2021-06-01T00:00:00Z"
    assert api.client.post(url, json=data(start=start, values=[5.0, 6.0, 7.0, 8.0]), headers=api.auth()).is_success
    assert api.client.post(url, json=data(start=start, values=[1.0, None, 3.0, None]), headers=api.auth()).is_success
    got = api.client.get(url, params={"start": start, "duration": "PT1H"}, headers=api.auth()).json()
    assert got["values"] == [1.0, 6.0, 3.0, 8.0]


def test_a_request_writes_at_most_the_configured_readings(api: ApiHarness) -> None:
    sensor, head = api.sensor("CS 2/power"), api.head()
    url = f"/api/v3_0/sensors/{sensor}/data"
    one_value_a_week = data(values=[1.0], duration="P7D")  # 672 readings of 15 min
    response = api.client.post(url, json=one_value_a_week, headers=api.auth())
    assert (response.status_code, response.json()["status"], response.json()["field"]) == (
        413, "TOO_MANY_READINGS", "duration",
    )  # fmt: skip
    assert str(LIMIT) in response.json()["message"]
    v2 = api.client.post("/api/v2_0/postMeterData", json=_resolve(api, v2_post(values=[1.0], duration="P7D")),
                         headers=api.auth())  # fmt: skip
    assert (v2.status_code, v2.json()["status"]) == (413, "TOO_MANY_READINGS")
    assert api.head() == head
    within = api.client.post(url, json=data(values=[1.0], duration="P5D"), headers=api.auth())  # 480 readings
    assert within.status_code == 200, within.text


def test_a_get_returns_at_most_the_configured_readings(api: ApiHarness) -> None:
    sensor = api.sensor("CS 2/power")
    url = f"/api/v3_0/sensors/{sensor}/data"
    response = api.client.get(url, params={"start": START, "duration": "P7D"}, headers=api.auth())
    assert (response.status_code, response.json()["status"]) == (413, "TOO_MANY_READINGS")
    assert str(LIMIT) in response.json()["message"]
    coarse = api.client.get(url, params={"start": START, "duration": "P7D", "resolution": "PT1H"}, headers=api.auth())
    assert coarse.status_code == 200  # 168 values
    v2 = api.client.get("/api/v2_0/getMeterData", params=_resolve(api, v2_get(duration="P7D")), headers=api.auth())
    assert (v2.status_code, v2.json()["status"]) == (413, "TOO_MANY_READINGS")


def test_a_long_url_is_a_json_414(api: ApiHarness) -> None:
    response = api.client.get("/api/v3_0/sensors", params={"x": "a" * 20_000}, headers=api.auth())
    assert response.status_code == 414
    assert (response.json()["status"], response.json()["field"]) == ("URI_TOO_LONG", "url")


@pytest.mark.parametrize("inner", ['{"a": NaN}', '{"a": 1e400}', '{"a": 100000000000000000000}'])
def test_out_of_range_numbers_in_json_strings_and_big_integers_are_422(api: ApiHarness, inner: str) -> None:
    """Integers beyond 64 bits (no store can hold them) and numbers inside JSON sent as a string
    (FlexMeasures clients send ``attributes`` so) are refused like the rest."""
    head = api.head()
    as_string = api.client.patch(f"/api/v3_0/assets/{api.asset('CS 2')}", json={"attributes": inner},
                                 headers=api.auth())  # fmt: skip
    assert (as_string.status_code, as_string.json()["field"]) == (422, "attributes"), as_string.text
    sensor = api.client.patch(f"/api/v3_0/sensors/{api.sensor('CS 2/power')}", json={"attributes": inner},
                              headers=api.auth())  # fmt: skip
    assert (sensor.status_code, sensor.json()["field"]) == (422, "attributes"), sensor.text
    big = api.client.patch(f"/api/v3_0/assets/{api.asset('CS 2')}", content=f'{{"attributes": {inner}}}'.encode(),
                           headers={**api.auth(), "Content-Type": "application/json"})  # fmt: skip
    assert (big.status_code, big.json()["field"]) == (422, "attributes.a"), big.text
    assert api.head() == head


def test_nul_characters_are_refused_in_urls_and_bodies(api: ApiHarness) -> None:
    head = api.head()
    query = api.client.get("/api/v2_0/getMeterData", params=_resolve(api, v2_get(source="a\x00b")), headers=api.auth())
    assert (query.status_code, query.json()["status"]) == (400, "INVALID_VALUE")
    body = api.client.patch(f"/api/v3_0/assets/{api.asset('CS 2')}", json={"name": "a\x00b"}, headers=api.auth())
    assert (body.status_code, body.json()["field"]) == (422, "name")
    assert api.head() == head
