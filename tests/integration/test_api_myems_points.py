"""MyEMS points writes and pointlimits (issue 14): the seed's own requests (create, update, point limits,
export, import at ``/points/{id}/import``, clone, delete) on a data source asset of the caller's
account, the point checked field by field after each; a meter's sensor is not edited as a point, and
units, object types, limits and other accounts' assets are refused naming the field."""

from __future__ import annotations

import json

from myems_support import (
    alice_session,  # noqa: F401 - the alice fixture
    login,
    myems_api,  # noqa: F401 - the api fixture
)
from test_api_support import BOB

ADDRESS = json.dumps({"slave_id": 1, "function_code": 3, "offset": 1, "number_of_registers": 2, "data_format": "float"})
SEED_POINT = {"name": "ModbusPoint2", "data_source_id": 1, "object_type": "ENERGY_VALUE", "units": "kWh",
              "high_limit": 999999999, "low_limit": 0, "higher_limit": 1099999998.9, "lower_limit": 0, "ratio": 1,
              "is_trend": True, "is_virtual": False, "address": ADDRESS, "description": None}
SEED_UPDATE = {**SEED_POINT, "name": "ModbusPoint1", "ratio": 100}
POINT_KEYS = ["id", "name", "data_source", "object_type", "units", "high_limit", "low_limit", "ratio", "is_trend",
              "is_virtual", "address", "description"]


def _created(response) -> int:
    assert response.status_code == 201, response.text
    assert response.headers["Location"].startswith("/myems/points/")
    return int(response.headers["Location"].rsplit("/", 1)[1])


def test_point_writes_with_the_seed_requests(api, alice):
    headers = alice.headers
    source = api.asset("Meter")  # a data source: an asset of alice's account
    point = _created(api.client.post("/myems/points", headers=headers,
                                     json={"data": {**SEED_POINT, "data_source_id": source}}))
    item = api.client.get(f"/myems/points/{point}", headers=headers).json()
    assert list(item) == POINT_KEYS
    assert item == {"id": point, "name": "ModbusPoint2", "data_source": item["data_source"],
                    "object_type": "ENERGY_VALUE", "units": "kWh", "high_limit": 999999999.0, "low_limit": 0.0,
                    "ratio": 1.0, "is_trend": True, "is_virtual": False, "address": ADDRESS, "description": None}
    assert item["data_source"]["id"] == source
    put = api.client.put(f"/myems/points/{point}", headers=headers, json={"data": {**SEED_UPDATE,
                                                                                   "data_source_id": source}})
    assert put.status_code == 200, put.text
    item = api.client.get(f"/myems/points/{point}", headers=headers).json()
    assert (item["name"], item["ratio"]) == ("ModbusPoint1", 100.0)
    limits = api.client.put(f"/myems/pointlimits/{point}", headers=headers, json={"data": {
        **SEED_UPDATE, "high_limit": 500, "low_limit": 5}})
    assert limits.status_code == 200, limits.text
    exported = api.client.get(f"/myems/points/{point}/export", headers=headers).json()
    assert (exported["high_limit"], exported["low_limit"]) == (500.0, 5.0) and list(exported) == POINT_KEYS
    imported = _created(api.client.post(f"/myems/points/{point}/import", headers=headers, json={"data": {
        **SEED_UPDATE, "data_source_id": source, "name": "Imported"}}))
    clone = _created(api.client.post(f"/myems/points/{point}/clone", headers=headers))
    copy = api.client.get(f"/myems/points/{clone}", headers=headers).json()
    assert (copy["name"], copy["ratio"], copy["high_limit"]) == ("ModbusPoint1 (Copy)", 100.0, 500.0)
    assert {point, imported, clone} <= {p["id"] for p in api.client.get("/myems/points", headers=headers).json()}
    assert api.client.delete(f"/myems/points/{clone}", headers=login(api, BOB)).status_code == 403
    assert api.client.delete(f"/myems/points/{clone}", headers=headers).status_code == 204
    gone = api.client.get(f"/myems/points/{clone}", headers=headers)
    assert gone.status_code == 404 and gone.json()["description"] == "API.POINT_NOT_FOUND"


def test_bad_points_are_refused_naming_the_field(api, alice):
    headers, source = alice.headers, api.asset("Meter")
    meter = api.client.delete(f"/myems/points/{api.sensor('Meter/energy')}", headers=headers)
    assert meter.status_code == 400 and meter.json()["description"] == "API.POINT_IS_NOT_EDITABLE"
    for body, description, field in (
        ({"units": "kW"}, "API.INVALID_OBJECT_TYPE", "object_type"),
        ({"units": "bogons"}, "API.INVALID_UNITS", "units"),
        ({"object_type": "DIGITAL_VALUE"}, "API.INVALID_OBJECT_TYPE", "object_type"),
        ({"high_limit": -1}, "API.INVALID_HIGH_LIMIT", "high_limit"),
        ({"name": " "}, "API.INVALID_POINT_NAME", "name"),
    ):
        response = api.client.post("/myems/points", headers=headers, json={"data": {
            **SEED_POINT, "data_source_id": source, **body}})
        assert (response.status_code, response.json()["description"], response.json()["field"]) == (
            400, description, field), response.text
    foreign = api.client.post("/myems/points", headers=headers, json={"data": {
        **SEED_POINT, "data_source_id": api.asset("Other CS")}})
    assert foreign.status_code == 403
