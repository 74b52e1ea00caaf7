"""MyEMS offline meters and offline meter files under /myems (issue 14): the seed's requests for
every endpoint, MyEMS' fields; a file of daily energy uploaded as CSV and as xlsx (openpyxl) stores
one reading per local day per meter, idempotently (restore stores nothing twice); bad files are
refused naming the place; isolation and auditors' read-only access.

Real data: daily grid import of OPSD household 4 (``/work/shared/data/opsd/household_res4_60min.csv``,
differences of the cumulative import meter at UTC midnights, 1-7 March 2016)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import openpyxl
import pytest
from myems_support import (
    AUDITOR,
    login,
    myems_api,  # noqa: F401 - the api fixture
)
from test_api_support import BOB, ApiHarness

from projections.readings_query import latest_values

SEED_OFFLINE = {
    "name": "OfflinePM21",
    "energy_category_id": 1,
    "hourly_low_limit": 0.000,
    "hourly_high_limit": 999.99,
    "is_counted": True,
    "cost_center_id": 1,
    "energy_item_id": 1,
    "description": "空调用电",
}
OFFLINE_TYPES = {
    "id": int,
    "name": str,
    "uuid": str,
    "energy_category": dict,
    "is_counted": bool,
    "hourly_low_limit": float,
    "hourly_high_limit": float,
    "cost_center": dict,
    "energy_item": dict,
    "description": str,
}
FILE_TYPES = {"id": int, "file_name": str, "uuid": str, "upload_datetime": str, "status": str}


def _offline(api: ApiHarness, **overrides) -> dict:
    return {**SEED_OFFLINE, "cost_center_id": api.world.accounts["Alpha"], **overrides}


def _created(response, path: str) -> int:
    assert response.status_code == 201, response.text
    assert response.headers["Location"].startswith(f"/myems/{path}/")
    return int(response.headers["Location"].rsplit("/", 1)[1])


def _values(api: ApiHarness, sensor_id: int) -> dict[date, float]:
    with api.platform.read_models.read_engine.connect() as conn:
        found = latest_values(conn, sensor_id, 0, 2**40)
    return {datetime.fromtimestamp(start, UTC).date(): value for start, value in sorted(found.items())}


def test_offline_meters_every_seed_endpoint(api):
    headers = login(api)
    meter = _created(
        api.client.post("/myems/offlinemeters", headers=headers, json={"data": _offline(api)}), "offlinemeters"
    )
    item = api.client.get(f"/myems/offlinemeters/{meter}", headers=headers).json()
    assert list(item) == list(OFFLINE_TYPES) and {k: type(v) for k, v in item.items()} == OFFLINE_TYPES
    assert item["cost_center"]["id"] == api.world.accounts["Alpha"] and item["energy_item"]["id"] == 1
    assert meter in [m["id"] for m in api.client.get("/myems/offlinemeters", headers=headers).json()]
    assert meter not in [m["id"] for m in api.client.get("/myems/meters", headers=headers).json()]
    put = api.client.put(
        f"/myems/offlinemeters/{meter}", headers=headers, json={"data": _offline(api, name="OfflinePM201")}
    )
    assert put.status_code == 200, put.text
    exported = api.client.get(f"/myems/offlinemeters/{meter}/export", headers=headers).json()
    assert exported["name"] == "OfflinePM201" and exported["uuid"] == item["uuid"]
    imported = _created(
        api.client.post(
            f"/myems/offlinemeters/{meter}/import", headers=headers, json={"data": _offline(api, name="OfflinePM202")}
        ),
        "offlinemeters",
    )
    clone = _created(api.client.post(f"/myems/offlinemeters/{meter}/clone", headers=headers), "offlinemeters")
    assert api.client.get(f"/myems/offlinemeters/{clone}", headers=headers).json()["name"] == "OfflinePM201 (Copy)"
    assert api.client.get(f"/myems/offlinemeters/{meter}", headers=login(api, BOB)).status_code == 403
    assert api.client.delete(f"/myems/offlinemeters/{meter}", headers=login(api, AUDITOR)).status_code == 403
    assert api.client.get(f"/myems/offlinemeters/{api.sensor('Meter/energy')}", headers=headers).status_code == 404
    for gone in (meter, imported, clone):
        assert api.client.delete(f"/myems/offlinemeters/{gone}", headers=headers).status_code == 204
        assert api.client.get(f"/myems/offlinemeters/{gone}", headers=headers).status_code == 404


def _opsd_daily_import_kwh(folder) -> list[tuple[date, float]]:
    cumulative = {}
    with open(folder / "opsd" / "household_res4_60min.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["utc_timestamp"].endswith("T00:00:00Z") and "2016-03-01" <= row["utc_timestamp"] < "2016-03-09":
                cumulative[date.fromisoformat(row["utc_timestamp"][:10])] = float(row["DE_KN_residential4_grid_import"])
    days = sorted(cumulative)
    return [(d, round(cumulative[d + timedelta(days=1)] - cumulative[d], 3)) for d in days[:-1]]


def _xlsx(rows: list[list]) -> bytes:
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


@pytest.mark.shared_data
def test_offline_meter_files_csv_and_xlsx_store_daily_readings(api, shared_data):
    headers = login(api)
    daily = _opsd_daily_import_kwh(shared_data)
    assert len(daily) == 7 and all(kwh > 0 for _, kwh in daily)
    first = _created(
        api.client.post(
            "/myems/offlinemeters", headers=headers, json={"data": _offline(api, name="Household 4 import")}
        ),
        "offlinemeters",
    )
    second = _created(
        api.client.post("/myems/offlinemeters", headers=headers, json={"data": _offline(api, name="Half of it")}),
        "offlinemeters",
    )
    text = (
        "date,Household 4 import,"
        + str(second)
        + "\n"
        + "".join(  # the second meter named by id
            f"{d.isoformat()},{kwh},{'' if i == 3 else round(kwh / 2, 3)}\n" for i, (d, kwh) in enumerate(daily[:4])
        )
    )
    uploaded = api.client.post(
        "/myems/offlinemeterfiles", headers=headers, files={"file": ("march.csv", text.encode(), "text/csv")}
    )
    csv_file = _created(uploaded, "offlinemeterfiles")
    item = api.client.get(f"/myems/offlinemeterfiles/{csv_file}", headers=headers).json()
    assert list(item) == list(FILE_TYPES) and {k: type(v) for k, v in item.items()} == FILE_TYPES
    assert (item["file_name"], item["status"]) == ("march.csv", "done")
    workbook = _xlsx([["date", "Household 4 import"], *[[datetime(d.year, d.month, d.day), kwh] for d, kwh in daily]])
    xlsx_file = _created(
        api.client.post(
            "/myems/offlinemeterfiles",
            headers=headers,
            files={
                "file": ("march.xlsx", workbook, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
            },
        ),
        "offlinemeterfiles",
    )
    assert api.platform.wait_for(api.head())
    assert _values(api, first) == dict(daily)  # days 1-4 from the CSV, 5-7 added by the xlsx, same values
    assert _values(api, second) == {d: round(kwh / 2, 3) for i, (d, kwh) in enumerate(daily[:4]) if i != 3}
    count = api.readings_count(first)
    restored = api.client.get(f"/myems/offlinemeterfiles/{xlsx_file}/restore", headers=headers)
    assert restored.status_code == 200 and restored.json()["status"] == "done"
    assert api.platform.wait_for(api.head()) and api.readings_count(first) == count  # nothing stored twice
    listed = [f["id"] for f in api.client.get("/myems/offlinemeterfiles", headers=headers).json()]
    assert listed == [csv_file, xlsx_file]
    assert api.client.get("/myems/offlinemeterfiles", headers=login(api, BOB)).json() == []
    assert api.client.get(f"/myems/offlinemeterfiles/{csv_file}", headers=login(api, BOB)).status_code == 403
    assert api.client.delete(f"/myems/offlinemeterfiles/{csv_file}", headers=login(api, AUDITOR)).status_code == 403
    assert api.client.delete(f"/myems/offlinemeterfiles/{csv_file}", headers=headers).status_code == 204
    assert api.client.get(f"/myems/offlinemeterfiles/{csv_file}", headers=headers).status_code == 404
    assert api.client.get(f"/myems/offlinemeterfiles/{csv_file}/restore", headers=headers).status_code == 404
    assert _values(api, first) == dict(daily)  # the readings it brought stay


@pytest.mark.parametrize(
    ("name", "content", "description", "field"),
    [
        ("a.csv", b"date,OfflineX\n2016-03-01,abc\n", "API.INVALID_FILE", "row 2"),
        ("a.csv", b"date,OfflineX\nyesterday,1\n", "API.INVALID_FILE", "row 2"),
        ("a.csv", b"date,OfflineX\n2016-03-01,1\n2016-03-01,2\n", "API.INVALID_FILE", "row 3"),
        ("a.csv", b"date,OfflineX\n2016-03-01,nan\n", "API.INVALID_FILE", "row 2"),
        ("a.csv", b"date\n2016-03-01\n", "API.INVALID_FILE", "row 1"),
        ("a.xlsx", b"PK\x03\x04 not a workbook", "API.INVALID_FILE", "file"),
        ("a.csv", b"date,Nobody\n2016-03-01,1\n", "API.OFFLINE_METER_NOT_FOUND", "file"),
        ("a.csv", b"\xff\xfe", "API.INVALID_FILE", "file"),
    ],
)
def test_bad_files_are_refused_naming_the_place(api, name, content, description, field):
    headers = login(api)
    if not any(m["name"] == "OfflineX" for m in api.client.get("/myems/offlinemeters", headers=headers).json()):
        _created(
            api.client.post("/myems/offlinemeters", headers=headers, json={"data": _offline(api, name="OfflineX")}),
            "offlinemeters",
        )
    head = api.head()
    response = api.client.post("/myems/offlinemeterfiles", headers=headers, files={"file": (name, content)})
    assert response.status_code in (400, 404), response.text
    assert (response.json()["description"], response.json()["field"]) == (description, field)
    assert api.head() == head  # nothing stored
    too_big = api.client.post(
        "/myems/offlinemeterfiles", headers=headers, files={"file": ("big.csv", b"x" * 1_000_001)}
    )
    assert too_big.status_code == 400 and too_big.json()["description"] == "API.INVALID_FILE"
    missing = api.client.post("/myems/offlinemeterfiles", headers=headers, data={"other": "x"})
    assert missing.status_code == 400 and missing.json()["field"] == "file"


def test_restore_stores_the_file_again_for_meters_made_since(api):
    """A file whose meter was deleted cannot be restored (404 naming the file); once a meter of that
    name exists again, restore stores the file's readings for it."""
    headers = login(api)
    first = _created(
        api.client.post("/myems/offlinemeters", headers=headers, json={"data": _offline(api, name="Restored")}),
        "offlinemeters",
    )
    upload = api.client.post(
        "/myems/offlinemeterfiles", headers=headers, files={"file": ("r.csv", b"date,Restored\n2016-03-01,2.5\n")}
    )
    file_id = _created(upload, "offlinemeterfiles")
    assert api.client.delete(f"/myems/offlinemeters/{first}", headers=headers).status_code == 204
    missing = api.client.get(f"/myems/offlinemeterfiles/{file_id}/restore", headers=headers)
    assert missing.status_code == 404 and missing.json()["description"] == "API.OFFLINE_METER_NOT_FOUND"
    again = _created(
        api.client.post("/myems/offlinemeters", headers=headers, json={"data": _offline(api, name="Restored")}),
        "offlinemeters",
    )
    restored = api.client.get(f"/myems/offlinemeterfiles/{file_id}/restore", headers=headers)
    assert restored.status_code == 200 and restored.json()["status"] == "done"
    assert api.platform.wait_for(api.head())
    assert _values(api, again) == {date(2016, 3, 1): 2.5}
