"""Carbon of the MyEMS storage reports from a carbon-intensity sensor (issue 14): a station that names
the sensor (``carbon_intensity_sensor_id``) and one reported with ``carbonintensitysensorid``, a
month of real battery readings (OPSD household 4, March 2016, quarter hours) and hourly intensities
in kg/MWh for the first 20 days only (the rest falls back to ``kgco2eperkwh``), checked against an
independent computation; bad sensors are refused naming the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from myems_support import hourly_meter, login, opsd_net_import_kw, storage_station
from test_api_support import ALICE, PASSWORD, ApiHarness

from commands import registry as cmd

NOW = "2016-03-31T23:59:59+00:00"
FACTOR = 0.5  # kg CO2e per kWh where no intensity reading covers the hour
INTENSITY_DAYS = 20


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    with ApiHarness(tmp_path_factory.mktemp("myems-carbon")) as harness:
        yield harness


def _intensity_kg_per_mwh(moment: datetime) -> float:
    return 200.0 + 10.0 * moment.hour + moment.day  # any known series will do


def _intensity_sensor(api: ApiHarness, start: datetime, name: str = "carbon intensity") -> int:
    """An hourly carbon-intensity sensor (kg/MWh) with INTENSITY_DAYS of readings from ``start``."""
    ctx = api.platform.commands
    sensor = cmd.register_sensor(ctx, cmd.RegisterSensor(asset_id=api.world.assets["Prices"], name=name,
                                                         unit="kg/MWh", event_resolution_s=3600))
    assert api.platform.wait_for(api.head())
    hours = [start + timedelta(hours=h) for h in range(24 * INTENSITY_DAYS)]
    posted = api.client.post(f"/api/v3_0/sensors/{sensor}/data", headers=api.auth(), json={
        "values": [_intensity_kg_per_mwh(t) for t in hours], "start": start.isoformat(),
        "duration": f"P{INTENSITY_DAYS}D", "unit": "kg/MWh"})
    assert posted.status_code == 200, posted.text
    return sensor


def _expected(hourly: list[tuple[datetime, float]]) -> dict[str, dict[str, float]]:
    """kg CO2e per day, charge and discharge: per hour |kW| * 1 h * (reading / 1000, else FACTOR)."""
    out: dict[str, dict[str, float]] = {"charge": {}, "discharge": {}}
    for start, kw in hourly:
        if kw == 0:
            continue
        per_kwh = _intensity_kg_per_mwh(start) / 1000 if start.day <= INTENSITY_DAYS else FACTOR
        day = out["charge" if kw > 0 else "discharge"]
        day[start.strftime("%Y-%m-%d")] = day.get(start.strftime("%Y-%m-%d"), 0.0) + abs(kw) * per_kwh
    return out


@pytest.mark.shared_data
def test_carbon_from_an_intensity_sensor_matches_an_independent_computation(api, shared_data):
    headers = login(api)
    me = api.client.put("/myems/users/login", json={"data": {"email": ALICE, "password": PASSWORD}}).json()
    hourly = opsd_net_import_kw(shared_data)
    intensity = _intensity_sensor(api, hourly[0][0])
    configured, sensor_a = storage_station(api, headers, me["id"], "Configured", carbon_intensity_sensor_id=intensity)
    plain, sensor_b = storage_station(api, headers, me["id"], "Plain")
    for sensor in (sensor_a, sensor_b):
        posted = api.client.post(f"/api/v3_0/sensors/{sensor}/data", headers=api.auth(), json={
            "values": [kw for _, kw in hourly for _ in range(4)], "start": hourly[0][0].isoformat(),
            "duration": "P31D", "unit": "kW"})
        assert posted.status_code == 200, posted.text
    assert api.platform.wait_for(api.head())
    expected = _expected(hourly)
    params = {"useruuid": me["uuid"], "now": NOW, "kgco2eperkwh": FACTOR}

    report = api.client.get("/myems/reports/energystoragepowerstationscarbon", headers=headers, params=params).json()
    assert report["energy_storage_power_station_names"] == ["Configured", "Plain"]
    month = report["reporting"]["charge_this_month"]
    days = sorted(expected["charge"])
    assert month["timestamps_array"][0] == days
    assert month["values_array"][0] == pytest.approx([expected["charge"][d] for d in days], abs=1e-3)
    plain_kwh = {d: sum(kw for t, kw in hourly if kw > 0 and t.strftime("%Y-%m-%d") == d) for d in days}
    assert month["values_array"][1] == pytest.approx([plain_kwh[d] * FACTOR for d in days], abs=1e-3)
    discharge = report["reporting"]["discharge_this_year"]["values_array"][0]
    assert discharge == [pytest.approx(sum(expected["discharge"].values()), abs=1e-3)]

    with_sensor = api.client.get("/myems/reports/energystoragepowerstationscarbon", headers=headers,
                                 params={**params, "carbonintensitysensorid": intensity}).json()
    assert with_sensor["reporting"]["charge_this_month"]["values_array"][1] == month["values_array"][0]

    dashboard = api.client.get("/myems/reports/energystoragepowerstationdashboard", headers=headers, params={
        **params, "reportingperiodstartdatetime": "2016-03-01T00:00:00",
        "reportingperiodenddatetime": "2016-04-01T00:00:00"}).json()
    rows = {row["name"]: row for row in dashboard["energy_storage_power_stations"]}
    assert rows["Configured"]["subtotal_charge_carbon"] == pytest.approx(sum(expected["charge"].values()), abs=1e-3)
    assert rows["Configured"]["subtotal_discharge_carbon"] == pytest.approx(
        sum(expected["discharge"].values()), abs=1e-3)
    assert rows["Plain"]["subtotal_charge_carbon"] == pytest.approx(sum(plain_kwh.values()) * FACTOR, abs=1e-3)


def test_bad_intensity_sensors_are_refused(api):
    headers = login(api)
    me = api.client.put("/myems/users/login", json={"data": {"email": ALICE, "password": PASSWORD}}).json()
    foreign, power = api.sensor("Other CS/power"), api.sensor("PV/power")
    for sensor_id, status, description in ((foreign, 404, "API.CARBON_INTENSITY_SENSOR_NOT_FOUND"),
                                           (power, 400, "API.INVALID_CARBON_INTENSITY_SENSOR_UNIT")):
        response = api.client.get("/myems/reports/energystoragepowerstationscarbon", headers=headers,
                                  params={"useruuid": me["uuid"], "carbonintensitysensorid": sensor_id})
        assert (response.status_code, response.json()["description"]) == (status, description), response.text
        station = api.client.post("/myems/energystoragepowerstations", headers=headers, json={"data": {
            "name": f"bad {sensor_id}", "address": "a", "postal_code": "1", "latitude": 1, "longitude": 1,
            "capacity": 10, "contact_id": me["id"], "cost_center_id": api.world.accounts["Alpha"],
            "carbon_intensity_sensor_id": sensor_id}})
        assert station.status_code == status and station.json()["field"] == "carbon_intensity_sensor_id"


def test_meter_and_virtual_meter_carbon_from_an_intensity_sensor(api):
    headers = login(api)
    intensity = _intensity_sensor(api, datetime(2024, 1, 1, 12, tzinfo=UTC), "meter intensity")  # from noon
    x1, x2 = hourly_meter(api, headers, "Carbon main"), hourly_meter(api, headers, "Carbon annex")
    kwh = {x1: [1.0 + h for h in range(24)], x2: [0.5 * h for h in range(24)]}
    for meter, values in kwh.items():
        posted = api.client.post(f"/api/v3_0/sensors/{meter}/data", headers=api.auth(), json={
            "values": values, "start": "2024-01-01T00:00:00+00:00", "duration": "PT24H", "unit": "kWh"})
        assert posted.status_code == 200, posted.text
    vm = api.client.post("/myems/virtualmeters", headers=headers, json={"data": {
        "name": "Carbon VM", "energy_category_id": 1, "is_counted": True, "cost_center_id": api.world.accounts["Alpha"],
        "energy_item_id": 1, "description": "sum", "expression": {"equation": "x1+x2", "variables": [
            {"name": "x1", "meter_type": "meter", "meter_id": x1},
            {"name": "x2", "meter_type": "meter", "meter_id": x2}]}}})
    assert vm.status_code == 201, vm.text
    assert api.platform.wait_for(api.head())

    def per_kwh(hour: int) -> float:  # the reading of the hour, kg/MWh -> kg/kWh; before noon the factor 0.8
        return _intensity_kg_per_mwh(datetime(2024, 1, 1, hour, tzinfo=UTC)) / 1000 if hour >= 12 else 0.8

    period = {"periodtype": "daily", "reportingperiodstartdatetime": "2024-01-01T00:00:00",
              "reportingperiodenddatetime": "2024-01-02T00:00:00", "carbonintensitysensorid": intensity}
    report = api.client.get("/myems/reports/meterenergy", headers=headers, params={**period, "meterid": x1}).json()
    expected = sum(v * per_kwh(h) for h, v in enumerate(kwh[x1]))
    assert report["reporting_period"]["total_in_kgco2e"] == pytest.approx(expected, abs=1e-6)
    plain = api.client.get("/myems/reports/meterenergy", headers=headers, params={
        **{k: v for k, v in period.items() if k != "carbonintensitysensorid"}, "meterid": x1}).json()
    assert plain["reporting_period"]["total_in_kgco2e"] == pytest.approx(sum(kwh[x1]) * 0.8, abs=1e-6)
    virtual = api.client.get("/myems/reports/virtualmeterenergy", headers=headers, params={
        **period, "virtualmeterid": int(vm.headers["Location"].rsplit("/", 1)[1])}).json()
    both = sum((a + b) * per_kwh(h) for h, (a, b) in enumerate(zip(kwh[x1], kwh[x2], strict=True)))
    assert virtual["reporting_period"]["total_in_kgco2e"] == pytest.approx(both, abs=1e-6)
