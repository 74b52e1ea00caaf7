"""MyEMS ``reports/dashboard`` (issue 14) with the seed's request (``API-Key`` header, ``useruuid``,
``periodtype``, base and reporting periods): the account as the root space, its sites as child
spaces, energy and cost checked against an independent computation from the posted readings and
the tariff."""

from __future__ import annotations

import pytest
from myems_support import (
    NIGHT_AND_DAY,
    alice_session,  # noqa: F401 - the alice fixture
    created_id,
    login,
    myems_api,  # noqa: F401 - the api fixture
)
from test_api_support import BOB

BASE, REPORTING = "2015-06-02T00:00:00+00:00", "2015-06-03T00:00:00+00:00"
SECTIONS = ["space", "base_period_input", "base_period_cost", "base_period_output", "sensor", "point",
            "reporting_period_input", "reporting_period_cost", "reporting_period_output", "child_space_input",
            "child_space_cost"]
REPORTING_INPUT = ["names", "energy_category_ids", "units", "timestamps", "values", "subtotals", "subtotals_in_kgce",
                   "subtotals_in_kgco2e", "toppeaks", "onpeaks", "midpeaks", "offpeaks", "increment_rates",
                   "total_in_kgce", "total_in_kgco2e", "increment_rate_in_kgce", "increment_rate_in_kgco2e"]
REPORTING_COST = ["names", "energy_category_ids", "units", "timestamps", "values", "subtotals", "increment_rates",
                  "total", "total_increment_rate", "total_unit"]
CHILD = ["energy_category_names", "units", "child_space_names_array", "subtotals_array"]


def _meter(api, headers, name: str, asset: str, counted: bool = True) -> int:
    response = api.client.post("/myems/meters", headers=headers, json={"data": {
        "name": name, "energy_category_id": 1, "hourly_low_limit": -99, "hourly_high_limit": 99, "is_counted": counted,
        "cost_center_id": api.world.accounts["Alpha"], "asset_id": api.asset(asset), "event_resolution_s": 3600}})
    return created_id(response, "meters")


def _post(api, meter: int, start: str, values: list[float]) -> None:
    posted = api.client.post(f"/api/v3_0/sensors/{meter}/data", headers=api.auth(), json={
        "values": values, "start": start, "duration": "PT24H", "unit": "kWh"})
    assert posted.status_code == 200, posted.text


def _price_eur_per_kwh(hour: int) -> float:
    """NIGHT_AND_DAY, computed here on its own: 80 EUR/MWh from 06:00 to 22:00 UTC, else 30."""
    return 0.08 if 6 <= hour < 22 else 0.03


def test_seed_dashboard_over_the_account(api, alice):
    created_id(api.client.post("/myems/tariffs", headers=alice.headers, json={"data": NIGHT_AND_DAY}), "tariffs")
    building, pv = _meter(api, alice.headers, "building main", "Meter"), _meter(api, alice.headers, "pv feed", "PV")
    uncounted = _meter(api, alice.headers, "uncounted", "Meter", counted=False)
    building_day = [-1.0 if h in (12, 13) else 2.0 for h in range(24)]  # two hours of production
    _post(api, building, BASE, [1.0] * 24)
    _post(api, building, REPORTING, building_day)
    _post(api, pv, REPORTING, [0.5] * 24)
    _post(api, uncounted, REPORTING, [100.0] * 24)
    group = created_id(api.client.post("/myems/sensors", headers=alice.headers,
                                       json={"data": {"name": "main panel", "description": "x"}}), "sensors")
    bound = api.client.post(f"/myems/sensors/{group}/points", headers=alice.headers,
                            json={"data": {"point_id": building}})
    assert bound.status_code == 201, bound.text
    key = api.client.post("/myems/apikeys", headers=alice.headers,
                          json={"data": {"name": "dashboard", "expires_datetime_utc": "2099-01-01T00:00:00"}})
    assert key.status_code == 201, key.text
    assert api.platform.wait_for(api.head())

    report = api.client.get("/myems/reports/dashboard", headers={"API-Key": key.json()["token"]}, params={
        "useruuid": alice.headers["User-UUID"], "periodtype": "daily",
        "baseperiodstartdatetime": "2015-06-02T00:00:00", "baseperiodenddatetime": "2015-06-03T00:00:00",
        "reportingperiodstartdatetime": "2015-06-03T00:00:00", "reportingperiodenddatetime": "2015-06-04T00:00:00"})
    assert report.status_code == 200, report.text
    body = report.json()
    assert list(body) == SECTIONS
    assert body["space"] == {"id": api.world.accounts["Alpha"], "name": "Alpha", "area": None,
                             "number_of_occupants": None}

    building_in = [v for v in building_day if v > 0]
    reporting_kwh = sum(building_in) + 0.5 * 24
    cost = sum(v * _price_eur_per_kwh(h) for h, v in enumerate(building_day) if v > 0)
    cost += sum(0.5 * _price_eur_per_kwh(h) for h in range(24))
    base_cost = sum(_price_eur_per_kwh(h) for h in range(24))
    assert body["base_period_input"] == {"names": ["Electricity"], "units": ["kWh"], "subtotals": [24.0],
                                         "total_in_kgce": pytest.approx(24 * 0.1229),
                                         "total_in_kgco2e": pytest.approx(24 * 0.8)}
    assert body["base_period_cost"] == {"names": ["Electricity"], "units": ["EUR"],
                                        "subtotals": [pytest.approx(base_cost)], "total": pytest.approx(base_cost)}
    assert body["base_period_output"] == {"names": ["Electricity"], "units": ["kWh"], "subtotals": [0.0]}

    rp = body["reporting_period_input"]
    assert list(rp) == REPORTING_INPUT
    assert (rp["timestamps"], rp["values"], rp["subtotals"]) == ([["2015-06-03"]], [[reporting_kwh]], [reporting_kwh])
    onpeak = sum(v for h, v in enumerate(building_day) if v > 0 and 6 <= h < 22) + 16 * 0.5
    assert (rp["onpeaks"], rp["offpeaks"], rp["toppeaks"]) == ([onpeak], [reporting_kwh - onpeak], [0.0])
    assert rp["increment_rates"] == [pytest.approx((reporting_kwh - 24) / 24)]
    rc = body["reporting_period_cost"]
    assert list(rc) == REPORTING_COST
    assert (rc["subtotals"], rc["total"], rc["total_unit"]) == ([pytest.approx(cost)], pytest.approx(cost), "EUR")
    assert rc["total_increment_rate"] == pytest.approx((round(cost, 2) - round(base_cost, 2)) / round(base_cost, 2))
    assert body["reporting_period_output"]["subtotals"] == [2.0]  # the building's two hours of production

    assert list(body["child_space_input"]) == CHILD and list(body["child_space_cost"]) == CHILD
    # the sites of the account's counted meters (the charge points' power sensors are meters without data)
    assert body["child_space_input"]["child_space_names_array"] == [["CS 1", "CS 2", "CS 3", "Meter", "PV"]]
    assert body["child_space_input"]["subtotals_array"] == [[0.0, 0.0, 0.0, sum(building_in), 12.0]]
    pv_cost = sum(0.5 * _price_eur_per_kwh(h) for h in range(24))
    assert body["child_space_cost"]["subtotals_array"] == [
        [0.0, 0.0, 0.0, pytest.approx(cost - pv_cost), pytest.approx(pv_cost)]]

    sensor = body["sensor"][str(group)]
    assert (sensor["name"], sensor["point_id_list"], sensor["point_unit_list"]) == ("main panel", [building], ["kWh"])
    assert body["point"] == {str(building): building_day[-1]}  # the last value of the reporting period


def test_dashboard_refuses_bad_input(api, alice):
    path, me = "/myems/reports/dashboard", alice.headers["User-UUID"]
    period = {"reportingperiodstartdatetime": "2015-06-03T00:00:00",
              "reportingperiodenddatetime": "2015-06-04T00:00:00"}
    for params, description in (
        ({**period, "periodtype": "daily"}, "API.INVALID_USER_UUID"),
        ({**period, "useruuid": me, "periodtype": "minutely"}, "API.INVALID_PERIOD_TYPE"),
        ({"useruuid": me, "periodtype": "daily"}, "API.INVALID_REPORTING_PERIOD_START_DATETIME"),
        ({**period, "useruuid": me, "periodtype": "daily", "reportingperiodenddatetime": "2015-06-01T00:00:00"},
         "API.INVALID_REPORTING_PERIOD_END_DATETIME"),
    ):
        refused = api.client.get(path, headers=alice.headers, params=params)
        assert (refused.status_code, refused.json()["description"]) == (400, description), refused.text
    bob = login(api, BOB)["User-UUID"]
    foreign = api.client.get(path, headers=alice.headers, params={**period, "useruuid": bob, "periodtype": "daily"})
    assert foreign.status_code == 403
