"""MyEMS meters under /myems (issue 14): the seed's create/update bodies, MyEMS' meter fields and
types, submeters, export/import/clone, delete; a meter is the platform's sensor (visible through
FlexMeasures' API too); isolation and auditors; reports/meterenergy over a month of real household
readings (OPSD, grid import) equals an independent sum per day."""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import UTC, datetime

import pytest
from myems_support import (
    AUDITOR,
    login,
    myems_api,  # noqa: F401 - the api fixture
)
from test_api_support import ALICE, BOB, ApiHarness

SEED_METER = {"name": "PM20", "energy_category_id": 1, "hourly_low_limit": 0.000, "hourly_high_limit": 999.99,
              "is_counted": True, "cost_center_id": 1, "energy_item_id": 1, "master_meter_id": 1,
              "description": "空调用电"}
REF = {"id": int, "name": str, "uuid": str}
METER_TYPES = {"id": int, "name": str, "uuid": str, "energy_category": dict, "is_counted": bool,
               "hourly_low_limit": float, "hourly_high_limit": float, "cost_center": dict, "energy_item": dict,
               "master_meter": dict, "description": str, "qrcode": str}


def _seed_meter(api: ApiHarness, **overrides) -> dict:
    """The seed's body, pointed at this world's ids (the master is the Meter/energy sensor)."""
    return {**SEED_METER, "cost_center_id": api.world.accounts["Alpha"],
            "master_meter_id": api.sensor("Meter/energy"), **overrides}


def _create(api: ApiHarness, headers: dict, **overrides) -> int:
    response = api.client.post("/myems/meters", json={"data": _seed_meter(api, **overrides)}, headers=headers)
    assert response.status_code == 201, response.text
    return int(response.headers["Location"].rsplit("/", 1)[1])


def test_meter_fields_match_myems(api):
    headers = login(api, ALICE)
    meter_id = _create(api, headers)
    item = api.client.get(f"/myems/meters/{meter_id}", headers=headers).json()
    assert list(item) == list(METER_TYPES)
    assert {name: type(value) for name, value in item.items()} == METER_TYPES
    for ref in ("energy_category", "cost_center", "energy_item", "master_meter"):
        assert {name: type(value) for name, value in item[ref].items()} == REF
    assert (item["name"], item["hourly_high_limit"], item["description"]) == ("PM20", 999.99, "空调用电")
    assert item["qrcode"] == "meter:" + item["uuid"] and item["energy_category"]["id"] == 1
    assert item["master_meter"]["id"] == api.sensor("Meter/energy")
    assert item["cost_center"]["id"] == api.world.accounts["Alpha"]
    assert meter_id in [m["id"] for m in api.client.get("/myems/meters", headers=headers).json()]
    sensor = api.client.get(f"/api/v3_0/sensors/{meter_id}", headers=api.auth(ALICE)).json()
    assert (sensor["name"], sensor["unit"]) == ("PM20", "kWh")  # the same entity, no second copy


def test_update_submeters_export_import_clone_delete(api):
    headers = login(api, ALICE)
    meter_id = _create(api, headers, name="PM21")
    master = api.sensor("Meter/energy")
    updated = api.client.put(f"/myems/meters/{meter_id}", headers=headers,
                             json={"data": _seed_meter(api, name="PM201", is_counted=False)})
    assert updated.status_code == 200, updated.text
    assert api.client.get(f"/myems/meters/{meter_id}/export", headers=headers).json()["name"] == "PM201"
    subs = api.client.get(f"/myems/meters/{master}/submeters", headers=headers).json()
    assert meter_id in [s["id"] for s in subs] and all(set(s) == set(REF) for s in subs)
    imported = api.client.post(f"/myems/meters/{meter_id}/import", headers=headers,
                               json={"data": _seed_meter(api, name="PM22")})
    assert imported.status_code == 201
    clone = api.client.post(f"/myems/meters/{meter_id}/clone", headers=headers)
    assert clone.status_code == 201
    assert api.client.get(clone.headers["Location"], headers=headers).json()["name"] == "PM201 (Copy)"
    in_use = api.client.post("/myems/meters", headers=headers, json={"data": _seed_meter(api, name="PM201")})
    assert in_use.status_code == 400 and in_use.json()["description"] == "API.METER_NAME_IS_ALREADY_IN_USE"
    blocked = api.client.delete(f"/myems/meters/{master}", headers=headers)
    assert blocked.status_code == 400 and blocked.json()["description"] == "API.THERE_IS_RELATION_WITH_SUB_METERS"
    assert api.client.delete(f"/myems/meters/{meter_id}", headers=headers).status_code == 204
    gone = api.client.get(f"/myems/meters/{meter_id}", headers=headers)
    assert gone.status_code == 404 and gone.json() == {**gone.json(), "title": "API.NOT_FOUND",
                                                       "description": "API.METER_NOT_FOUND"}


def test_bad_input_isolation_and_auditors(api):
    headers = login(api, ALICE)
    for overrides, description in (({"name": " "}, "API.INVALID_METER_NAME"),
                                   ({"is_counted": "yes"}, "API.INVALID_IS_COUNTED_VALUE"),
                                   ({"energy_category_id": 2}, "API.ENERGY_CATEGORY_NOT_FOUND"),
                                   ({"master_meter_id": 99999}, "API.MASTER_METER_NOT_FOUND"),
                                   ({"cost_center_id": api.world.accounts["Beta"]}, "API.COST_CENTER_NOT_FOUND")):
        response = api.client.post("/myems/meters", headers=headers, json={"data": _seed_meter(api, **overrides)})
        assert response.status_code in (400, 404) and response.json()["description"] == description, response.text
    meter_id = _create(api, headers, name="PM30")
    bob = login(api, BOB)
    assert meter_id not in [m["id"] for m in api.client.get("/myems/meters", headers=bob).json()]
    assert api.client.get(f"/myems/meters/{meter_id}", headers=bob).status_code == 403
    assert api.client.delete(f"/myems/meters/{meter_id}", headers=bob).status_code == 403
    foreign_master = api.client.post("/myems/meters", headers=bob, json={"data": _seed_meter(api, name="X")})
    assert foreign_master.status_code == 403
    auditor = login(api, AUDITOR)
    assert api.client.get(f"/myems/meters/{meter_id}", headers=auditor).status_code == 200
    refused = api.client.post("/myems/meters", headers=auditor, json={"data": _seed_meter(api, name="A")})
    assert refused.status_code == 403
    assert api.client.get("/myems/meters").status_code == 401


def _opsd_hourly_import_kwh(folder, start: str, end: str) -> list[tuple[datetime, float]]:
    """Hourly grid import (kWh) of OPSD household 4: differences of the cumulative meter reading."""
    rows = []
    with open(folder / "opsd" / "household_res4_60min.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            if start <= row["utc_timestamp"] <= end and row["DE_KN_residential4_grid_import"]:
                rows.append((datetime.fromisoformat(row["utc_timestamp"].replace("Z", "+00:00")),
                             float(row["DE_KN_residential4_grid_import"])))
    return [(t0, round(v1 - v0, 3)) for (t0, v0), (_, v1) in zip(rows, rows[1:], strict=False)]


@pytest.mark.shared_data
def test_meter_energy_report_over_a_month_of_real_readings(api, shared_data):
    headers = login(api, ALICE)
    meter_id = _create(api, headers, name="Household 4 grid import", event_resolution_s=3600)
    hourly = _opsd_hourly_import_kwh(shared_data, "2016-03-01T00:00:00Z", "2016-04-01T00:00:00Z")
    assert len(hourly) == 31 * 24
    tariff = api.client.post("/myems/tariffs", headers=headers, json={"data": {
        "name": "household", "energy_category_id": 1, "tariff_type": "timeofuse", "unit_of_price": "EUR/kWh",
        "valid_from": "2016-01-01T00:00:00", "valid_through": "2017-01-01T00:00:00", "timeofuse": [
            {"start_time_of_day": "00:00:00", "end_time_of_day": "06:59:59", "peak_type": "offpeak", "price": 0.2},
            {"start_time_of_day": "07:00:00", "end_time_of_day": "23:59:59", "peak_type": "onpeak", "price": 0.3}]}})
    assert tariff.status_code == 201, tariff.text
    posted = api.client.post(f"/api/v3_0/sensors/{meter_id}/data", headers=api.auth(ALICE), json={
        "values": [v for _, v in hourly], "start": "2016-03-01T00:00:00+00:00", "duration": "P31D", "unit": "kWh"})
    assert posted.status_code == 200, posted.text
    expected: dict[str, float] = defaultdict(float)
    for start, kwh in hourly:
        expected[start.astimezone(UTC).strftime("%Y-%m-%d")] += kwh
    response = api.client.get("/myems/reports/meterenergy", headers=headers, params={
        "meterid": meter_id, "periodtype": "daily", "baseperiodstartdatetime": "2016-02-01T00:00:00",
        "baseperiodenddatetime": "2016-03-01T00:00:00", "reportingperiodstartdatetime": "2016-03-01T00:00:00",
        "reportingperiodenddatetime": "2016-04-01T00:00:00"})
    assert response.status_code == 200, response.text
    report = response.json()
    assert set(report) == {"meter", "base_period", "reporting_period", "parameters", "excel_bytes_base64"}
    assert set(report["reporting_period"]) == {"increment_rate", "total_in_category", "total_in_kgce",
                                               "total_in_kgco2e", "toppeak", "onpeak", "midpeak", "offpeak",
                                               "timestamps", "values"}
    reporting = report["reporting_period"]
    assert reporting["timestamps"] == sorted(expected)
    assert reporting["values"] == pytest.approx([expected[day] for day in sorted(expected)], abs=1e-6)
    assert reporting["total_in_category"] == pytest.approx(sum(expected.values()), abs=1e-6)
    assert report["base_period"]["values"] == [] and reporting["increment_rate"] is None
    assert reporting["offpeak"] == pytest.approx(sum(kwh for start, kwh in hourly if start.hour < 7), abs=1e-6)
    assert reporting["onpeak"] == pytest.approx(sum(kwh for start, kwh in hourly if start.hour >= 7), abs=1e-6)
    assert reporting["toppeak"] == reporting["midpeak"] == 0
    monthly = api.client.get("/myems/reports/meterenergy", headers=headers, params={
        "meterid": meter_id, "periodtype": "monthly", "reportingperiodstartdatetime": "2016-03-01T00:00:00",
        "reportingperiodenddatetime": "2016-04-01T00:00:00", "quickmode": "true"}).json()
    assert monthly["reporting_period"]["timestamps"] == ["2016-03"] and "excel_bytes_base64" not in monthly
    bad = api.client.get("/myems/reports/meterenergy", headers=headers, params={"meterid": meter_id,
                                                                                 "periodtype": "daily"})
    assert bad.status_code == 400 and bad.json()["description"] == "API.INVALID_REPORTING_PERIOD_START_DATETIME"
    assert api.client.get("/myems/reports/meterenergy", headers=login(api, BOB), params={
        "meterid": meter_id, "periodtype": "daily", "reportingperiodstartdatetime": "2016-03-01T00:00:00",
        "reportingperiodenddatetime": "2016-04-01T00:00:00"}).status_code == 403


METER_POINT_TYPES = {"id": int, "name": str, "data_source": dict, "address": str}
POINT_TYPES = {"id": int, "name": str, "data_source": dict, "object_type": str, "units": str, "high_limit": float,
               "low_limit": float, "ratio": float, "is_trend": bool, "is_virtual": bool, "address": str,
               "description": str}


def test_points_are_sensors_and_a_meter_is_its_own_point(api):
    headers = login(api, ALICE)
    meter_id = _create(api, headers, name="PM40")
    points = api.client.get(f"/myems/meters/{meter_id}/points", headers=headers).json()
    assert [p["id"] for p in points] == [meter_id]
    assert {k: type(v) for k, v in points[0].items()} == METER_POINT_TYPES
    own = api.client.get(f"/myems/points/{meter_id}", headers=headers).json()
    assert {k: type(v) for k, v in own.items()} == POINT_TYPES
    assert (own["object_type"], own["units"]) == ("ENERGY_VALUE", "kWh")
    power = api.client.get(f"/myems/points/{api.sensor('CS 1/power')}", headers=headers).json()
    assert (power["object_type"], power["units"], power["data_source"]["id"]) == ("ANALOG_VALUE", "kW",
                                                                                  api.asset("CS 1"))
    listed = {p["id"] for p in api.client.get("/myems/points", headers=headers).json()}
    assert meter_id in listed and api.sensor("Other CS/power") not in listed
    assert api.client.get(f"/myems/points/{api.sensor('Other CS/power')}", headers=headers).status_code == 403
    assert api.client.get("/myems/points/99999", headers=headers).json()["description"] == "API.POINT_NOT_FOUND"


def test_commands_bound_to_a_meter_with_the_seed_requests(api):
    headers = login(api, ALICE)
    meter = _create(api, headers, name="PM50")
    command = api.client.post("/myems/commands", headers=headers, json={"data": {
        "name": "meter command", "topic": "myems/point/2", "payload": "{set_value: $s1}", "set_value": 2.0,
        "asset_id": api.asset("Meter")}})
    assert command.status_code == 201, command.text
    command_id = int(command.headers["Location"].rsplit("/", 1)[1])
    base = f"/myems/meters/{meter}/commands"
    bound = api.client.post(base, headers=headers, json={"data": {"command_id": command_id}})  # the seed's body
    assert bound.status_code == 201 and bound.headers["Location"] == f"{base}/{command_id}", bound.text
    listed = api.client.get(base, headers=headers).json()
    assert [c["id"] for c in listed] == [command_id]
    assert set(listed[0]) == {"id", "name", "uuid", "topic", "payload", "set_value", "description", "asset_id"}
    updated = api.client.put(f"/myems/meters/{meter}", headers=headers, json={"data": _seed_meter(api, name="PM51")})
    assert updated.status_code == 200 and [c["id"] for c in api.client.get(base, headers=headers).json()] == [
        command_id]  # updating the meter keeps its bindings
    again = api.client.post(base, headers=headers, json={"data": {"command_id": command_id}})
    assert again.status_code == 400 and again.json()["description"] == "API.COMMAND_RELATION_IS_ALREADY_EXISTS"
    missing = api.client.post(base, headers=headers, json={"data": {"command_id": 99999}})
    assert missing.status_code == 404 and missing.json()["description"] == "API.COMMAND_NOT_FOUND"
    assert api.client.post(base, headers=headers, json={"data": {}}).json()["description"] == "API.INVALID_COMMAND_ID"
    for bad in ("\u00b2", "-1", True, 0):  # a superscript digit passes str.isdigit() but not int()
        refused = api.client.post(base, headers=headers, json={"data": {"command_id": bad}})
        assert refused.status_code == 400, (bad, refused.text)
        assert refused.json()["description"] == "API.INVALID_COMMAND_ID"
    assert api.client.get(base, headers=login(api, BOB)).status_code == 403
    assert api.client.delete(f"{base}/{command_id}", headers=headers).status_code == 204
    assert api.client.get(base, headers=headers).json() == []
    gone = api.client.delete(f"{base}/{command_id}", headers=headers)
    assert gone.status_code == 404 and gone.json()["description"] == "API.COMMAND_RELATION_NOT_FOUND"


def test_seed_bind_list_unbind_a_point_of_a_meter(api):
    """The seed's ``POST meters/{id}/points`` (``{"point_id": "3"}``, the id as text), list, unbind."""
    headers = login(api, ALICE)
    meter_id = _create(api, headers, name="PM41")
    power = api.sensor("CS 1/power")
    path = f"/myems/meters/{meter_id}/points"
    bound = api.client.post(path, headers=headers, json={"data": {"point_id": str(power)}})
    assert bound.status_code == 201 and bound.headers["Location"] == f"{path}/{power}", bound.text
    points = api.client.get(path, headers=headers).json()
    assert sorted(p["id"] for p in points) == sorted([meter_id, power])
    assert [p["name"] for p in points] == sorted(p["name"] for p in points)  # by name, as MyEMS
    [item] = [p for p in points if p["id"] == power]
    assert {k: type(v) for k, v in item.items()} == METER_POINT_TYPES
    assert item["data_source"]["id"] == api.asset("CS 1")
    updated = api.client.put(f"/myems/meters/{meter_id}", headers=headers,
                             json={"data": _seed_meter(api, name="PM41b")})
    assert updated.status_code == 200, updated.text  # a meter's update keeps its points
    assert power in [p["id"] for p in api.client.get(path, headers=headers).json()]
    other_meter = _create(api, headers, name="PM42")
    for point, status, description in (
        (power, 400, "API.METER_POINT_RELATION_EXISTS"),
        (meter_id, 400, "API.METER_POINT_RELATION_EXISTS"),
        (other_meter, 400, "API.METER_CANNOT_HAVE_MORE_THAN_ONE_ENERGY_VALUE_POINTS"),
        (api.sensor("Other CS/power"), 404, "API.POINT_NOT_FOUND"),
        ("x", 400, "API.INVALID_POINT_ID"),
    ):
        refused = api.client.post(path, headers=headers, json={"data": {"point_id": point}})
        assert (refused.status_code, refused.json()["description"]) == (status, description), refused.text
    own = api.client.delete(f"{path}/{meter_id}", headers=headers)
    assert (own.status_code, own.json()["description"]) == (400, "API.METER_POINT_IS_THE_METER")
    assert api.client.delete(f"{path}/{power}", headers=headers).status_code == 204
    assert [p["id"] for p in api.client.get(path, headers=headers).json()] == [meter_id]
    gone = api.client.delete(f"{path}/{power}", headers=headers)
    assert (gone.status_code, gone.json()["description"]) == (404, "API.METER_POINT_RELATION_NOT_FOUND")
