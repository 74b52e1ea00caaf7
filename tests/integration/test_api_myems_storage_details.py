"""MyEMS ``reports/energystoragepowerstationdetails`` (issue 14): the seed's request (API-Key header,
``energystoragepowerstationdetailsid`` and a reporting period) on a station built through the MyEMS
API, its answer checked key by key against MyEMS' own report and its figures against an
independent computation from the readings and the tariff."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from myems_support import (
    NIGHT_AND_DAY,
    alice_session,  # noqa: F401 - the alice fixture
    login,
    myems_api,  # noqa: F401 - the api fixture
    storage_station,
)
from test_api_support import BOB

NOW = "2016-03-31T12:00:00+00:00"
START = datetime(2016, 3, 29, tzinfo=UTC)
STATION_KEYS = ["id", "name", "uuid", "address", "latitude", "longitude", "rated_capacity", "rated_power", "contact",
                "cost_center", "svg", "description", "phase_of_lifecycle", "is_online", "pcs_run_state",
                "battery_operating_state", "qrcode"]
TOP_KEYS = ["energy_storage_power_station", "reporting_period", "energy_indicators", "revenue_indicators",
            "parameters"]


def _kw(i: int) -> float:
    """The battery's power in quarter hour ``i`` from START: charge 10 kW, discharge 6 kW, idle, by the hour."""
    return (10.0, -6.0, 0.0)[(i // 4) % 3]


def _price(moment: datetime) -> float:
    return 0.30 if moment.hour >= 22 or moment.hour < 6 else 0.80  # NIGHT_AND_DAY in EUR/kWh


def test_station_details_in_myems_shape(api, alice):
    headers, ids = alice
    me = ids["contact_id"]
    station, sensor = storage_station(api, headers, me, "Details station")
    n = 3 * 96
    posted = api.client.post(f"/api/v3_0/sensors/{sensor}/data", headers=api.auth(), json={
        "values": [_kw(i) for i in range(n)], "start": START.isoformat(), "duration": "P3D", "unit": "kW"})
    assert posted.status_code == 200, posted.text
    tariff = {**NIGHT_AND_DAY, "name": "details 2016", "unit_of_price": "EUR/kWh", "valid_from": "2016-01-01T00:00:00",
              "valid_through": "2017-01-01T00:00:00",
              "timeofuse": [{**p, "price": p["price"] / 100} for p in NIGHT_AND_DAY["timeofuse"]]}
    assert api.client.post("/myems/tariffs", headers=headers, json={"data": tariff}).status_code == 201
    key = api.client.post("/myems/apikeys", headers=headers, json={"data": {
        "name": "details", "expires_datetime_utc": "2100-06-30T12:00:00"}}).json()["token"]
    assert api.platform.wait_for(api.head())

    response = api.client.get("/myems/reports/energystoragepowerstationdetails", headers={"API-Key": key}, params={
        "energystoragepowerstationdetailsid": station, "reportingperiodstartdatetime": "2016-03-30T00:00:00",
        "reportingperiodenddatetime": "2016-03-31T00:00:00", "now": NOW})  # the seed's request
    assert response.status_code == 200, response.text
    report = response.json()
    assert list(report) == TOP_KEYS
    item = report["energy_storage_power_station"]
    assert list(item) == STATION_KEYS
    assert (item["id"], item["name"], item["rated_capacity"], item["rated_power"]) == (
        station, "Details station", 600.0, 200.0)
    assert item["contact"]["id"] == me and item["cost_center"]["id"] == ids["cost_center_id"]
    assert item["qrcode"] == "energystoragepowerstation:" + item["uuid"]
    assert (item["is_online"], item["pcs_run_state"], item["battery_operating_state"]) == (False, "Unknown", "Unknown")
    assert report["reporting_period"] == {k: [] for k in ("names", "units", "subtotals", "increment_rates",
                                                          "timestamps", "values")}  # as MyEMS returns it
    end = datetime.fromisoformat(NOW)
    quarters = [(START + timedelta(minutes=15 * i), _kw(i)) for i in range(n)]
    today = [(t, kw) for t, kw in quarters if end.replace(hour=0) <= t < end]
    ever = [(t, kw) for t, kw in quarters if t < end]

    def kwh(rows, sign):
        return sum(abs(kw) * 0.25 for _, kw in rows if kw * sign > 0)

    def money(rows, sign):
        return round(sum(abs(kw) * 0.25 * _price(t) for t, kw in rows if kw * sign > 0), 2)

    assert report["energy_indicators"] == {
        "today_charge_energy_value": pytest.approx(kwh(today, 1)),
        "today_discharge_energy_value": pytest.approx(kwh(today, -1)),
        "total_charge_energy_value": pytest.approx(kwh(ever, 1)),
        "total_discharge_energy_value": pytest.approx(kwh(ever, -1))}
    assert report["revenue_indicators"] == {
        "today_charge_revenue_value": money(today, 1), "today_discharge_revenue_value": money(today, -1),
        "total_charge_revenue_value": money(ever, 1), "total_discharge_revenue_value": money(ever, -1)}
    parameters = report["parameters"]
    assert parameters["names"] == ["Container of Details station-Battery.P (kW)"]
    day = [(t, kw) for t, kw in quarters if datetime(2016, 3, 30, tzinfo=UTC) <= t < datetime(2016, 3, 31, tzinfo=UTC)]
    assert parameters["timestamps"] == [[t.strftime("%m-%dT%H:%M") for t, _ in day]]
    assert parameters["values"] == [[kw for _, kw in day]]

    by_uuid = api.client.get("/myems/reports/energystoragepowerstationdetails", headers=headers,
                             params={"uuid": item["uuid"], "now": NOW}).json()
    assert by_uuid["energy_indicators"] == report["energy_indicators"]
    assert len(by_uuid["parameters"]["values"][0]) == 3 * 96 - 48  # the 3 days before NOW, default
    for params, status, description in (({}, 400, "API.INVALID_ENERGY_STORAGE_POWER_STATION_ID"),
                                        ({"id": "x"}, 400, "API.INVALID_ENERGY_STORAGE_POWER_STATION_ID"),
                                        ({"id": 10**6}, 404, "API.ENERGY_STORAGE_POWER_STATION_NOT_FOUND")):
        bad = api.client.get("/myems/reports/energystoragepowerstationdetails", headers=headers, params=params)
        assert (bad.status_code, bad.json()["description"]) == (status, description), bad.text
    other = api.client.get("/myems/reports/energystoragepowerstationdetails", headers=login(api, BOB),
                           params={"id": station})
    assert other.status_code in (403, 404)
