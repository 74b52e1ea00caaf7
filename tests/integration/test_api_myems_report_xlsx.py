"""MyEMS reports' xlsx exports (issue 14): ``reports/meterenergy`` and ``reports/virtualmeterenergy``
return ``excel_bytes_base64`` unless ``quickmode`` (as MyEMS does); the decoded workbook holds the
report's name, period type, reporting period and the same figures as the JSON's ``reporting_period``
(per period, totals, increment rate, peak split) with the base period's values beside them."""

from __future__ import annotations

import base64
import io

import openpyxl
import pytest
from myems_support import (
    hourly_meter,
    login,
    myems_api,  # noqa: F401 - the api fixture
)
from test_api_support import ALICE, ApiHarness

PERIODS = {
    "periodtype": "daily",
    "baseperiodstartdatetime": "2024-03-01T00:00:00",
    "baseperiodenddatetime": "2024-03-03T00:00:00",
    "reportingperiodstartdatetime": "2024-03-03T00:00:00",
    "reportingperiodenddatetime": "2024-03-05T00:00:00",
}


def _post_kwh(api: ApiHarness, meter_id: int, start: str, values: list[float]) -> None:
    response = api.client.post(f"/api/v3_0/sensors/{meter_id}/data", headers=api.auth(ALICE), json={
        "values": values, "start": start, "duration": f"PT{len(values)}H", "unit": "kWh"})  # fmt: skip
    assert response.status_code == 200, response.text


def _rows(report: dict) -> list[tuple]:
    """The workbook's rows (cell values), decoded from the report's base64."""
    workbook = openpyxl.load_workbook(io.BytesIO(base64.b64decode(report["excel_bytes_base64"])))
    return [tuple(c for c in row if c is not None) for row in workbook.active.iter_rows(values_only=True)]


def _check_workbook(report: dict, name: str) -> None:
    """The workbook holds the name, the period and the JSON's reporting (and base) figures."""
    rows, reporting, base = _rows(report), report["reporting_period"], report["base_period"]
    assert rows[0] == ("Name", name, "Period type", "daily")
    assert rows[1] == ("Reporting start", "2024-03-03T00:00:00", "Reporting end", "2024-03-05T00:00:00")
    consumption = next(r for r in rows if r and r[0] == "Consumption")
    assert consumption == pytest.approx(
        ("Consumption", reporting["total_in_category"], reporting["total_in_kgce"] / 1000,
         reporting["total_in_kgco2e"] / 1000))  # fmt: skip
    assert next(r for r in rows if r and r[0] == "Increment rate")[1] == pytest.approx(reporting["increment_rate"])
    header = next(i for i, r in enumerate(rows) if r and r[0] == "Datetime")
    table = rows[header + 1 : header + 1 + len(reporting["timestamps"])]
    assert [r[0] for r in table] == reporting["timestamps"]
    assert [r[1] for r in table] == pytest.approx(reporting["values"])
    assert [r[2] for r in table] == pytest.approx(base["values"])
    total = rows[header + 1 + len(reporting["timestamps"])]
    assert total == pytest.approx(("Total", reporting["total_in_category"], base["total_in_category"]))


def test_meter_and_virtual_meter_energy_reports_export_xlsx(api):
    headers = login(api, ALICE)
    x1, x2 = hourly_meter(api, headers, "Xlsx main"), hourly_meter(api, headers, "Xlsx annex")
    for meter_id, kwh in ((x1, 1.5), (x2, 0.25)):
        _post_kwh(api, meter_id, "2024-03-01T00:00:00+00:00", [kwh * (1 + h % 5) for h in range(96)])
    variables = [{"name": name, "meter_type": "meter", "meter_id": m} for name, m in (("x1", x1), ("x2", x2))]
    created = api.client.post("/myems/virtualmeters", headers=headers, json={"data": {
        "name": "Xlsx site", "energy_category_id": 1, "is_counted": True,
        "cost_center_id": api.world.accounts["Alpha"], "energy_item_id": 1, "description": "x1 + x2",
        "expression": {"equation": "x1+x2", "variables": variables}}})  # fmt: skip
    assert created.status_code == 201, created.text
    vm_id = int(created.headers["Location"].rsplit("/", 1)[1])

    meter = api.client.get("/myems/reports/meterenergy", headers=headers, params={"meterid": x1, **PERIODS})
    assert meter.status_code == 200, meter.text
    report = meter.json()
    assert report["reporting_period"]["timestamps"] == ["2024-03-03", "2024-03-04"]
    daily = [sum(1.5 * (1 + h % 5) for h in range(day * 24, day * 24 + 24)) for day in range(4)]
    assert report["reporting_period"]["values"] == pytest.approx(daily[2:])
    assert report["base_period"]["values"] == pytest.approx(daily[:2])
    _check_workbook(report, "Xlsx main")
    peaks = {r[0]: r[1] for r in _rows(report) if r and str(r[0]).endswith("peak (kWh)")}
    assert peaks == pytest.approx({"Top peak (kWh)": report["reporting_period"]["toppeak"],
                                   "On peak (kWh)": report["reporting_period"]["onpeak"],
                                   "Mid peak (kWh)": report["reporting_period"]["midpeak"],
                                   "Off peak (kWh)": report["reporting_period"]["offpeak"]})  # fmt: skip

    assert api.platform.wait_for(api.head(), ["projection.myems_virtual_meters"])
    virtual = api.client.get("/myems/reports/virtualmeterenergy", headers=headers,
                             params={"virtualmeterid": vm_id, **PERIODS})  # fmt: skip
    assert virtual.status_code == 200, virtual.text
    vreport = virtual.json()
    assert vreport["reporting_period"]["values"] == pytest.approx(
        [m * (1.5 + 0.25) / 1.5 for m in report["reporting_period"]["values"]])
    _check_workbook(vreport, "Xlsx site")

    for path, params in (("meterenergy", {"meterid": x1}), ("virtualmeterenergy", {"virtualmeterid": vm_id})):
        quick = api.client.get(f"/myems/reports/{path}", headers=headers,
                               params={**params, **PERIODS, "quickmode": "true"})  # fmt: skip
        assert quick.status_code == 200 and "excel_bytes_base64" not in quick.json()
