"""MyEMS reports over energy storage power stations and meters (issue 14): a station built only through
the MyEMS API (container, battery, bindings), a month of real readings on its battery, and
``reports/energystoragepowerstationlist``, ``...dashboard``, ``...scarbon`` and ``reports/meterbatch``
(with its xlsx export) checked field by field against an independent computation from the readings.

Real data: hourly net grid import of OPSD household 4 in March 2016
(``/work/shared/data/opsd/household_res4_60min.csv``), used as the battery's power (kW, charging
positive) in four quarter hours per hour, and as the meter's energy (kWh per quarter hour)."""

from __future__ import annotations

import base64
import io

import openpyxl
import pytest
from myems_support import (
    NIGHT_AND_DAY,
    login,
    myems_api,  # noqa: F401 - the api fixture
    opsd_net_import_kw,
    storage_station,
)
from test_api_support import ALICE, BOB

NOW = "2016-03-31T12:00:00+00:00"
LIST_TYPES = [
    "id",
    "name",
    "uuid",
    "address",
    "latitude",
    "longitude",
    "rated_capacity",
    "rated_power",
    "description",
    "phase_of_lifecycle",
    "commissioning_date",
    "qrcode",
    "is_online",
    "pcs_run_state",
    "battery_operating_state",
    "battery_soc_point_value",
    "battery_power_point_value",
    "charge_times",
    "charge_values",
    "today_total_charge",
    "discharge_times",
    "discharge_values",
    "today_total_discharge",
]


@pytest.mark.shared_data
def test_storage_station_reports_match_the_readings(api, shared_data):
    headers = login(api)
    me = api.client.put("/myems/users/login", json={"data": {"email": ALICE, "password": "correct horse battery"}})
    user_uuid, me_id = me.json()["uuid"], me.json()["id"]
    station, sensor = storage_station(api, headers, me_id)
    hourly = opsd_net_import_kw(shared_data)
    assert len(hourly) == 31 * 24
    posted = api.client.post(
        f"/api/v3_0/sensors/{sensor}/data",
        headers=api.auth(),
        json={
            "values": [kw for _, kw in hourly for _ in range(4)],
            "start": "2016-03-01T00:00:00+00:00",
            "duration": "P31D",
            "unit": "kW",
        },
    )
    assert posted.status_code == 200, posted.text
    tariff = {
        **NIGHT_AND_DAY,
        "name": "2016",
        "unit_of_price": "EUR/kWh",
        "valid_from": "2016-01-01T00:00:00",
        "valid_through": "2017-01-01T00:00:00",
        "timeofuse": [{**p, "price": p["price"] / 100} for p in NIGHT_AND_DAY["timeofuse"]],
    }
    assert api.client.post("/myems/tariffs", headers=headers, json={"data": tariff}).status_code == 201
    assert api.platform.wait_for(api.head())

    listed = api.client.get("/myems/reports/energystoragepowerstationlist", headers=headers, params={"now": NOW})
    assert listed.status_code == 200, listed.text
    [item] = listed.json()
    assert list(item) == LIST_TYPES and item["id"] == station
    assert (item["rated_capacity"], item["rated_power"]) == (600.0, 200.0)  # the bound container's
    last_day = [kw for t, kw in hourly if "2016-03-30T12" <= t.isoformat()[:13] < "2016-03-31T12"]
    assert item["charge_values"] == [round(max(kw, 0.0), 3) for kw in last_day]
    assert item["discharge_values"] == [round(max(-kw, 0.0), 3) for kw in last_day]
    assert item["charge_times"][0] == "12:00" and len(item["discharge_times"]) == 24
    today = [kw for t, kw in hourly if "2016-03-31T00" <= t.isoformat()[:13] < "2016-03-31T12"]
    assert item["today_total_charge"] == pytest.approx(sum(kw for kw in today if kw > 0), abs=1e-3)
    assert item["battery_operating_state"] in ("Charging", "Discharging", "Idle")
    assert item["is_online"] is False  # "now" is in 2016: nothing was believed in the ten minutes before it
    [live] = api.client.get("/myems/reports/energystoragepowerstationlist", headers=headers).json()
    assert live["is_online"] is True and live["charge_values"] == [0.0] * 24  # believed just now; no 2026 data

    dashboard = api.client.get(
        "/myems/reports/energystoragepowerstationdashboard",
        headers=headers,
        params={
            "useruuid": user_uuid,
            "periodtype": "daily",
            "reportingperiodstartdatetime": "2016-03-01T00:00:00",
            "reportingperiodenddatetime": "2016-04-01T00:00:00",
            "now": NOW,
        },
    ).json()
    charge = sum(kw for _, kw in hourly if kw > 0)
    discharge = sum(-kw for _, kw in hourly if kw < 0)
    money = [0.0, 0.0]
    for start, kw in hourly:  # independent: the tariff's price of the hour (30 from 22:00 to 06:00, else 80)
        price = 0.30 if start.hour >= 22 or start.hour < 6 else 0.80
        money[0 if kw > 0 else 1] += abs(kw) * price
    [row] = dashboard["energy_storage_power_stations"]
    assert row["subtotal_charge_energy"] == pytest.approx(charge, abs=1e-3)
    assert row["subtotal_discharge_energy"] == pytest.approx(discharge, abs=1e-3)
    assert (row["subtotal_charge_billing"], row["subtotal_discharge_billing"]) == (
        round(money[0], 2),
        round(money[1], 2),
    )
    assert row["subtotal_charge_carbon"] == pytest.approx(charge * 0.8, abs=1e-2)
    assert dashboard["total_charge_billing"] == round(money[0], 2) and dashboard["total_offline"] == 1
    assert set(dashboard) == {
        "total_rated_capacity",
        "total_rated_power",
        "total_online",
        "total_offline",
        "total_locked",
        "energy_storage_power_stations",
        "total_charge_energy",
        "total_discharge_energy",
        "total_charge_billing",
        "total_discharge_billing",
        "total_charge_carbon",
        "total_discharge_carbon",
    }

    key = api.client.post(
        "/myems/apikeys",
        headers=headers,
        json={"data": {"name": "reports", "expires_datetime_utc": "2100-06-30T12:00:00"}},
    ).json()["token"]
    carbon = api.client.get(  # as the seed sends it: an API-Key header and the useruuid query
        "/myems/reports/energystoragepowerstationscarbon",
        headers={"API-Key": key},
        params={"useruuid": user_uuid, "now": NOW, "kgco2eperkwh": 0.5},
    ).json()
    assert carbon["energy_storage_power_station_names"] == ["Beijing Office"]
    month = carbon["reporting"]["charge_this_month"]
    daily: dict[str, float] = {}
    for start, kw in hourly:
        if kw > 0 and start.isoformat() < NOW:
            daily[start.strftime("%Y-%m-%d")] = daily.get(start.strftime("%Y-%m-%d"), 0.0) + kw
    assert month["timestamps_array"] == [sorted(daily)]
    assert month["values_array"][0] == pytest.approx(
        [daily[d] * 0.5 for d in sorted(daily)], abs=1e-3
    )
    other = api.client.get(
        "/myems/reports/energystoragepowerstationscarbon", headers=headers, params={"useruuid": "0" * 36}
    )
    assert other.status_code == 403
    assert api.client.get("/myems/reports/energystoragepowerstationlist", headers=login(api, BOB)).json() == []


@pytest.mark.shared_data
def test_meter_batch_per_day_with_its_xlsx_export(api, shared_data):
    headers = login(api)
    meter = api.sensor("Meter/energy")  # kWh per quarter hour
    hourly = opsd_net_import_kw(shared_data)[:72]  # 1-3 March
    posted = api.client.post(
        f"/api/v3_0/sensors/{meter}/data",
        headers=api.auth(),
        json={
            "values": [abs(kw) / 4 for _, kw in hourly for _ in range(4)],
            "start": "2016-03-01T00:00:00+00:00",
            "duration": "PT72H",
            "unit": "kWh",
        },
    )
    assert posted.status_code == 200, posted.text
    assert api.platform.wait_for(api.head())
    params = {
        "spaceid": api.world.accounts["Alpha"],
        "reportingperiodstartdatetime": "2016-03-01T00:00:00",
        "reportingperiodenddatetime": "2016-03-03T12:00:00",
        "language": "en",
    }
    report = api.client.get("/myems/reports/meterbatch", headers=headers, params=params).json()
    assert set(report) == {
        "meters",
        "energycategories",
        "date_list",
        "excel_bytes_base64",
        "pdf_bytes_base64",
        "docx_bytes_base64",
    }
    assert report["date_list"] == ["2016-03-01", "2016-03-02", "2016-03-03"] and report["excel_bytes_base64"] is None
    [row] = [m for m in report["meters"] if m["id"] == meter]
    assert list(row) == [
        "id",
        "meter_name",
        "energy_category_name",
        "uuid",
        "space_name",
        "cost_center_name",
        "values",
        "daily_values",
        "subtotal",
    ]
    expected = [sum(abs(kw) for t, kw in hourly if t.day == day and (day < 3 or t.hour < 12)) for day in (1, 2, 3)]
    assert [d["value"] for d in row["daily_values"]] == pytest.approx(expected, abs=1e-6)
    assert row["subtotal"] == pytest.approx(sum(expected), abs=1e-6) and row["values"] == [row["subtotal"]]
    exported = api.client.get("/myems/reports/meterbatch", headers=headers, params={**params, "exportexcel": "true"})
    sheet = openpyxl.load_workbook(io.BytesIO(base64.b64decode(exported.json()["excel_bytes_base64"]))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1][4:7] == ("2016-03-01", "2016-03-02", "2016-03-03")
    [meter_row] = [r for r in rows[2:] if r[0] == "energy"]
    assert list(meter_row[4:7]) == pytest.approx(expected, abs=1e-6)
    quick = api.client.get(
        "/myems/reports/meterbatch", headers=headers, params={**params, "exportexcel": "true", "quickmode": "true"}
    )
    assert quick.json()["excel_bytes_base64"] is None
    assert api.client.get("/myems/reports/meterbatch", headers=login(api, BOB), params=params).status_code == 404
    bad = api.client.get("/myems/reports/meterbatch", headers=headers, params={**params, "spaceid": "x"})
    assert bad.status_code == 400 and bad.json()["field"] == "spaceid"
