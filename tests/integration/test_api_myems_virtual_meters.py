"""MyEMS virtual meters under /myems (issue 14): the seed's body, MyEMS' fields; the equation is
evaluated by a projection: a virtual meter over two meters equals x1 + x2 (and x1 - 0.5 * x2) for
every interval, also after late and corrected data arrives; bad equations and foreign meters refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from myems_support import (
    AUDITOR,
    hourly_meter,
    login,
    myems_api,  # noqa: F401 - the api fixture
)
from test_api_support import ALICE, BOB, ApiHarness

from commands import registry as cmd
from commands.readings import RecordSensorData, record_sensor_data
from domain.source_types import NOT_MEASURED_SOURCE_TYPES

VM_TYPES = {"id": int, "name": str, "uuid": str, "energy_category": dict, "is_counted": bool, "cost_center": dict,
            "energy_item": dict, "description": str, "expression": dict}


def _vm(api: ApiHarness, x1: int, x2: int, name: str = "VM10", equation: str = "x1+x2") -> dict:
    return {"name": name, "energy_category_id": 1, "is_counted": True, "cost_center_id": api.world.accounts["Alpha"],
            "energy_item_id": 1, "description": "virtual description", "expression": {
                "equation": equation, "variables": [{"name": "x1", "meter_type": "meter", "meter_id": x1},
                                                    {"name": "x2", "meter_type": "meter", "meter_id": x2}]}}


def _post_kwh(api: ApiHarness, meter_id: int, start: str, values: list[float | None]) -> None:
    response = api.client.post(f"/api/v3_0/sensors/{meter_id}/data", headers=api.auth(ALICE), json={
        "values": values, "start": start, "duration": f"PT{len(values)}H", "unit": "kWh"})
    assert response.status_code == 200, response.text


def _hourly(api: ApiHarness, headers: dict, vm_id: int) -> tuple[list[str], list[float]]:
    assert api.platform.wait_for(api.head(), ["projection.myems_virtual_meters"])
    report = api.client.get("/myems/reports/virtualmeterenergy", headers=headers, params={
        "virtualmeterid": vm_id, "periodtype": "hourly", "reportingperiodstartdatetime": "2024-01-01T00:00:00",
        "reportingperiodenddatetime": "2024-01-02T00:00:00"})
    assert report.status_code == 200, report.text
    return report.json()["reporting_period"]["timestamps"], report.json()["reporting_period"]["values"]


def test_virtual_meter_is_the_sum_for_every_interval_also_after_late_data(api):
    headers = login(api, ALICE)
    x1, x2 = hourly_meter(api, headers, "Main"), hourly_meter(api, headers, "Annex")
    _post_kwh(api, x1, "2024-01-01T00:00:00+00:00", [1.0, 2.0, 3.0, 4.0])  # before the virtual meter exists
    created = api.client.post("/myems/virtualmeters", headers=headers, json={"data": _vm(api, x1, x2)})
    assert created.status_code == 201, created.text
    vm_id = int(created.headers["Location"].rsplit("/", 1)[1])
    item = api.client.get(f"/myems/virtualmeters/{vm_id}", headers=headers).json()
    assert list(item) == list(VM_TYPES) and {k: type(v) for k, v in item.items()} == VM_TYPES
    assert set(item["expression"]) == {"id", "uuid", "equation", "variables"}
    assert item["expression"]["variables"][1] == {"id": 2, "name": "x2", "meter_type": "meter", "meter_id": x2,
                                                  "meter_name": "Annex"}
    assert _hourly(api, headers, vm_id) == ([], [])  # x2 has no values yet: no interval is complete
    _post_kwh(api, x2, "2024-01-01T01:00:00+00:00", [10.0, 20.0, 30.0])
    assert _hourly(api, headers, vm_id) == (
        ["2024-01-01T01:00:00", "2024-01-01T02:00:00", "2024-01-01T03:00:00"], [12.0, 23.0, 34.0])
    _post_kwh(api, x2, "2024-01-01T00:00:00+00:00", [100.0])  # late data for hour 0
    _post_kwh(api, x1, "2024-01-01T02:00:00+00:00", [5.0])  # a corrected value for hour 2
    assert _hourly(api, headers, vm_id)[1] == [101.0, 12.0, 25.0, 34.0]
    changed = api.client.put(f"/myems/virtualmeters/{vm_id}", headers=headers,
                             json={"data": _vm(api, x1, x2, name="VM11", equation="x1 - 0.5 * x2")})
    assert changed.status_code == 200, changed.text
    assert _hourly(api, headers, vm_id)[1] == [-49.0, -3.0, -5.0, -11.0]
    clone = api.client.post(f"/myems/virtualmeters/{vm_id}/clone", headers=headers)
    assert clone.status_code == 201
    assert api.client.get(clone.headers["Location"], headers=headers).json()["name"] == "VM11 (Copy)"
    assert api.client.delete(f"/myems/virtualmeters/{vm_id}", headers=headers).status_code == 204
    assert api.client.get(f"/myems/virtualmeters/{vm_id}", headers=headers).json()["description"] == \
        "API.VIRTUAL_METER_NOT_FOUND"


def test_bad_equations_foreign_meters_and_auditors(api):
    headers = login(api, ALICE)
    x1, x2 = hourly_meter(api, headers, "A1"), hourly_meter(api, headers, "A2")
    for equation in ("__import__('os').system('true')", "x1 ** 2", "x1 + y"):
        response = api.client.post("/myems/virtualmeters", headers=headers,
                                   json={"data": _vm(api, x1, x2, name="bad", equation=equation)})
        assert response.status_code == 400, response.text
        assert response.json()["description"] == "API.INVALID_EQUATION_IN_EXPRESSION"
    other = api.sensor("Other CS/power")
    foreign = api.client.post("/myems/virtualmeters", headers=headers, json={"data": _vm(api, x1, other, name="f")})
    assert foreign.status_code == 403
    vm_id = int(api.client.post("/myems/virtualmeters", headers=headers, json={"data": _vm(api, x1, x2, "ok")}
                                ).headers["Location"].rsplit("/", 1)[1])
    assert api.client.get(f"/myems/virtualmeters/{vm_id}", headers=login(api, BOB)).status_code == 403
    auditor = login(api, AUDITOR)
    assert api.client.get(f"/myems/virtualmeters/{vm_id}", headers=auditor).status_code == 200
    assert api.client.delete(f"/myems/virtualmeters/{vm_id}", headers=auditor).status_code == 403


def test_forecasts_and_schedules_are_no_meter_readings(api):
    """A forecast or a schedule on a meter (newer beliefs than its readings, and for hours it has no
    reading yet) changes neither a virtual meter (live or back-filled) nor the meter's energy report."""
    headers = login(api, ALICE)
    x1, x2 = hourly_meter(api, headers, "M1"), hourly_meter(api, headers, "M2")
    _post_kwh(api, x1, "2024-01-01T00:00:00+00:00", [1.0, 2.0, 3.0])
    _post_kwh(api, x2, "2024-01-01T00:00:00+00:00", [10.0, 20.0, 30.0, 40.0])
    live = int(api.client.post("/myems/virtualmeters", headers=headers, json={"data": _vm(api, x1, x2, "live")}
                               ).headers["Location"].rsplit("/", 1)[1])
    ctx, start = api.platform.commands, datetime(2024, 1, 1, tzinfo=UTC)
    for source_type in sorted(NOT_MEASURED_SOURCE_TYPES):  # hours 0-5 of x1: newer than its readings
        command = RecordSensorData(sensor_id=x1, start=start, duration=timedelta(hours=6), values=[500.0] * 6,
                                   unit="kWh", source=f"{source_type}:test", source_type=source_type)
        record_sensor_data(ctx, command, cmd.load_sensor(ctx, x1))
    filled = int(api.client.post("/myems/virtualmeters", headers=headers, json={"data": _vm(api, x1, x2, "later")}
                                 ).headers["Location"].rsplit("/", 1)[1])
    expected = (["2024-01-01T00:00:00", "2024-01-01T01:00:00", "2024-01-01T02:00:00"], [11.0, 22.0, 33.0])
    assert _hourly(api, headers, live) == expected
    assert _hourly(api, headers, filled) == expected
    report = api.client.get("/myems/reports/meterenergy", headers=headers, params={
        "meterid": x1, "periodtype": "hourly", "reportingperiodstartdatetime": "2024-01-01T00:00:00",
        "reportingperiodenddatetime": "2024-01-02T00:00:00"})
    assert report.status_code == 200, report.text
    assert report.json()["reporting_period"]["values"] == [1.0, 2.0, 3.0]
