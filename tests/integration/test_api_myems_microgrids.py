"""MyEMS microgrids under /myems (issue 14): the seed's microgrid and device bodies, MyEMS' fields,
devices listed per microgrid, update/export/import/clone/delete, isolation; and a microgrid with a
battery, PV and an EV charger and a time-of-use tariff, built only through the MyEMS API, is
scheduled by the platform (trigger and schedule through FlexMeasures' API)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from myems_support import (
    NIGHT_AND_DAY,
    login,
    myems_scheduling_harness,  # noqa: F401 - the harness fixture
    opsd_net_import_kw,
)
from scheduling_support import ALICE, BOB, SchedulingHarness

SEED_MICROGRID = {"name": "Beijing Office", "address": "Wangfujing Street, Dongcheng District, Beijing",
                  "postal_code": "100000", "latitude": 39.909429, "longitude": 116.416993, "capacity": 600.000,
                  "architecture_type_id": 1, "owner_type_id": 1, "contact_id": 1, "cost_center_id": 1,
                  "svg": "<svg></svg>", "description": "Classic"}
MICROGRID_TYPES = {"id": int, "name": str, "uuid": str, "address": str, "postal_code": str, "latitude": float,
                   "longitude": float, "capacity": float, "architecture_type": dict, "owner_type": dict,
                   "is_input_counted": bool, "is_output_counted": bool, "contact": dict, "cost_center": dict,
                   "svg": str, "description": str, "qrcode": str}


def _alice_id(h: SchedulingHarness) -> int:
    return h.client.put("/myems/users/login", json={"data": {"email": ALICE, "password": "correct horse battery"}}
                        ).json()["id"]


def _microgrid(h: SchedulingHarness, **overrides) -> dict:
    return {**SEED_MICROGRID, "contact_id": _alice_id(h), "cost_center_id": h.world.accounts["Alpha"], **overrides}


def _post(h: SchedulingHarness, path: str, body: dict, headers: dict) -> int:
    response = h.client.post(path, json={"data": body}, headers=headers)
    assert response.status_code == 201, response.text
    return int(response.headers["Location"].rsplit("/", 1)[1])


def test_microgrid_and_devices_field_by_field(harness):
    headers = login(harness)
    microgrid_id = _post(harness, "/myems/microgrids", _microgrid(harness), headers)
    item = harness.client.get(f"/myems/microgrids/{microgrid_id}", headers=headers).json()
    assert list(item) == list(MICROGRID_TYPES)
    assert {k: type(v) for k, v in item.items()} == MICROGRID_TYPES
    assert item["qrcode"] == "microgrid:" + item["uuid"] and item["contact"]["id"] == _alice_id(harness)
    battery = _post(harness, "/myems/microgridbatteries", {"name": "Battery", "microgrid_id": microgrid_id,
                                                          "battery_state_point_id": 1, "soc_point_id": 2,
                                                          "power_point_id": 3, "capacity": 30}, headers)
    got = harness.client.get(f"/myems/microgridbatteries/{battery}", headers=headers).json()
    assert set(got) == {"id", "name", "uuid", "microgrid", "battery_state_point", "soc_point", "power_point",
                        "charge_meter", "discharge_meter", "capacity"}
    assert got["microgrid"]["id"] == microgrid_id and got["capacity"] == 30 and got["soc_point"] == {"id": 2}
    assert got["power_point"]["name"] == "power"  # the device's platform sensor
    pv = _post(harness, "/myems/microgridphotovoltaics", {"name": "Photovoltaic", "microgrid_id": microgrid_id,
                                                         "power_point_id": 1, "capacity": 30}, headers)
    assert [d["id"] for d in harness.client.get(f"/myems/microgrids/{microgrid_id}/batteries",
                                                headers=headers).json()] == [battery]
    assert [d["id"] for d in harness.client.get(f"/myems/microgrids/{microgrid_id}/photovoltaics",
                                                headers=headers).json()] == [pv]
    assert harness.client.get(f"/myems/microgrids/{microgrid_id}/grids", headers=headers).json() == []
    put = harness.client.put(f"/myems/microgridbatteries/{battery}", headers=headers,
                             json={"data": {"name": "Battery", "microgrid_id": microgrid_id, "capacity": 50}})
    assert put.status_code == 200
    assert harness.client.get(f"/myems/microgridbatteries/{battery}", headers=headers).json()["capacity"] == 50
    blocked = harness.client.delete(f"/myems/microgrids/{microgrid_id}", headers=headers)
    assert blocked.status_code == 400 and blocked.json()["description"] == "API.THERE_IS_RELATION_WITH_DEVICES"
    for path in (f"/myems/microgridbatteries/{battery}", f"/myems/microgridphotovoltaics/{pv}"):
        assert harness.client.delete(path, headers=headers).status_code == 204
    clone = harness.client.post(f"/myems/microgrids/{microgrid_id}/clone", headers=headers)
    assert clone.status_code == 201
    assert harness.client.get(clone.headers["Location"], headers=headers).json()["name"] == "Beijing Office (Copy)"
    renamed = harness.client.put(f"/myems/microgrids/{microgrid_id}", headers=headers,
                                 json={"data": _microgrid(harness, name="Beijing Office 2")})
    assert renamed.status_code == 200
    assert harness.client.get(f"/myems/microgrids/{microgrid_id}/export", headers=headers).json()["name"] == \
        "Beijing Office 2"
    assert harness.client.delete(f"/myems/microgrids/{microgrid_id}", headers=headers).status_code == 204
    gone = harness.client.get(f"/myems/microgrids/{microgrid_id}", headers=headers)
    assert gone.status_code == 404 and gone.json()["description"] == "API.MICROGRID_NOT_FOUND"


def test_isolation_and_bad_input(harness):
    headers = login(harness)
    microgrid_id = _post(harness, "/myems/microgrids", _microgrid(harness, name="private"), headers)
    bob = login(harness, BOB)
    assert microgrid_id not in [m["id"] for m in harness.client.get("/myems/microgrids", headers=bob).json()]
    assert harness.client.get(f"/myems/microgrids/{microgrid_id}", headers=bob).status_code == 403
    foreign = harness.client.post("/myems/microgridloads", headers=bob,
                                  json={"data": {"name": "Load", "microgrid_id": microgrid_id, "capacity": 3}})
    assert foreign.status_code == 403
    for overrides, description in (({"capacity": 0}, "API.INVALID_CAPACITY_VALUE"),
                                   ({"architecture_type_id": 9}, "API.MICROGRID_ARCHITECTURE_TYPE_NOT_FOUND"),
                                   ({"cost_center_id": harness.world.accounts["Beta"]}, "API.COST_CENTER_NOT_FOUND"),
                                   ({"name": "private"}, "API.MICROGRID_NAME_IS_ALREADY_IN_USE")):
        response = harness.client.post("/myems/microgrids", headers=headers,
                                       json={"data": _microgrid(harness, **overrides)})
        assert response.json()["description"] == description, response.text


def test_microgrid_built_through_myems_is_scheduled_by_the_platform(harness):
    headers = login(harness)
    tariff = _post(harness, "/myems/tariffs", {**NIGHT_AND_DAY, "name": "microgrid tariff"}, headers)
    microgrid_id = _post(harness, "/myems/microgrids", _microgrid(harness, name="Delft", capacity=25,
                                                                  tariff_id=tariff), headers)
    battery = _post(harness, "/myems/microgridbatteries", {"name": "B", "microgrid_id": microgrid_id,
                                                          "capacity": 40}, headers)
    charger = _post(harness, "/myems/microgridevchargers", {"name": "C", "microgrid_id": microgrid_id,
                                                           "capacity": 11}, headers)
    _post(harness, "/myems/microgridphotovoltaics", {"name": "PV", "microgrid_id": microgrid_id, "capacity": 10},
          headers)
    sensors = {d: harness.client.get(f"/myems/microgrid{d}/{i}", headers=headers).json()["power_point"]["id"]
               for d, i in (("batteries", battery), ("evchargers", charger))}
    start = datetime(2015, 6, 2, 18, tzinfo=UTC)
    response = harness.client.post(f"/api/v3_0/assets/{microgrid_id}/schedules/trigger", headers=harness.headers(),
                                   json={"start": start.isoformat(), "duration": "PT12H", "flex-model": [
                                       {"sensor": sensors["batteries"], "soc-at-start": "20 kWh"},
                                       {"sensor": sensors["evchargers"], "soc-at-start": "5 kWh", "soc-max": "60 kWh",
                                        "soc-targets": [{"datetime": (start + timedelta(hours=10)).isoformat(),
                                                         "value": "40 kWh"}]}]})
    assert response.status_code == 200, response.text
    harness.settle()
    schedule_id = response.json()["schedule"]
    charging = harness.client.get(f"/api/v3_0/sensors/{sensors['evchargers']}/schedules/{schedule_id}",
                                  params={"duration": "PT12H"}, headers=harness.headers()).json()["values"]
    battery_plan = harness.client.get(f"/api/v3_0/sensors/{sensors['batteries']}/schedules/{schedule_id}",
                                      params={"duration": "PT12H"}, headers=harness.headers()).json()["values"]
    assert 5 + sum(charging) * 0.25 >= 40 - 1e-6 and max(charging) <= 11 + 1e-6  # the charger's capacity
    assert all(abs(b + c) <= 25 + 1e-6 for b, c in zip(battery_plan, charging, strict=True))  # microgrid capacity
    assert sum(charging[:16]) <= 1e-6  # nothing charged during the tariff's 80 EUR/MWh hours (18-22 UTC)
    shown = harness.client.get(f"/myems/microgrids/{microgrid_id}/schedules", headers=headers,
                               params={"computed": "true"}).json()  # and through MyEMS: the battery's steps
    assert [r["power"] for r in shown] == pytest.approx(battery_plan) and shown[0]["id"] is None
    assert {r["schedule"] for r in shown} == {schedule_id} and shown[0]["start_datetime_utc"] == "2015-06-02T18:00:00"
    assert [r["peak_type"] for r in shown[:16]] == ["onpeak"] * 16 and shown[16]["peak_type"] == "offpeak"


@pytest.mark.shared_data
def test_microgrids_billing_over_a_month_of_real_readings_to_the_cent(harness, shared_data):
    headers = login(harness)
    tariff_body = {**NIGHT_AND_DAY, "name": "billing tariff", "unit_of_price": "EUR/kWh",
                   "valid_from": "2016-01-01T00:00:00", "valid_through": "2017-01-01T00:00:00",
                   "timeofuse": [{**p, "price": p["price"] / 100 + 0.0123} for p in NIGHT_AND_DAY["timeofuse"]]}
    tariff = _post(harness, "/myems/tariffs", tariff_body, headers)
    microgrid_id = _post(harness, "/myems/microgrids", _microgrid(harness, name="Household", capacity=20,
                                                                  tariff_id=tariff), headers)
    battery = _post(harness, "/myems/microgridbatteries", {"name": "HB", "microgrid_id": microgrid_id,
                                                          "capacity": 10}, headers)
    sensor = harness.client.get(f"/myems/microgridbatteries/{battery}", headers=headers).json()["power_point"]["id"]
    hourly = opsd_net_import_kw(shared_data)
    assert len(hourly) == 31 * 24 and any(kw < 0 for _, kw in hourly) and any(kw > 0 for _, kw in hourly)
    posted = harness.client.post(f"/api/v3_0/sensors/{sensor}/data", headers=harness.headers(), json={
        "values": [kw for _, kw in hourly for _ in range(4)], "start": "2016-03-01T00:00:00+00:00",
        "duration": "P31D", "unit": "kW"})
    assert posted.status_code == 200, posted.text
    expected: dict[str, dict[str, float]] = {"charge": {}, "discharge": {}}
    for start, kw in hourly:  # independent: four quarter hours at the tariff's price of the hour
        price = 30 / 100 + 0.0123 if start.hour >= 22 or start.hour < 6 else 80 / 100 + 0.0123
        kind, day = ("charge" if kw > 0 else "discharge"), start.strftime("%Y-%m-%d")
        for _ in range(4):
            expected[kind][day] = expected[kind].get(day, 0.0) + abs(kw) * 0.25 * price
    user_uuid = harness.client.put("/myems/users/login", json={"data": {
        "email": ALICE, "password": "correct horse battery"}}).json()["uuid"]
    response = harness.client.get("/myems/reports/microgridsbilling", headers=headers, params={
        "useruuid": user_uuid, "now": "2016-03-31T23:59:59+00:00"})
    assert response.status_code == 200, response.text
    report = response.json()
    index = report["microgrid_names"].index("Household")
    assert set(report["reporting"]) == {f"{k}_{w}" for k in ("charge", "discharge")
                                        for w in ("7_days", "this_month", "this_year")}
    for kind in ("charge", "discharge"):
        month = report["reporting"][f"{kind}_this_month"]
        days = sorted(expected[kind])
        assert month["timestamps_array"][index] == days
        assert month["values_array"][index] == [round(expected[kind][d], 2) for d in days]
        assert report["reporting"][f"{kind}_this_year"]["values_array"][index] == \
            [pytest.approx(round(sum(expected[kind].values()), 2), abs=0.01)]  # to the cent
        week = report["reporting"][f"{kind}_7_days"]["timestamps_array"][index]
        assert week == [d for d in days if d >= "2016-03-25"]
    energy = harness.client.get("/myems/reports/microgridsenergy", headers=headers, params={
        "useruuid": user_uuid, "now": "2016-03-31T23:59:59+00:00"}).json()["reporting"]["charge_this_month"]
    charged: dict[str, float] = {}
    for start, kw in hourly:
        if kw > 0:
            charged[start.strftime("%Y-%m-%d")] = charged.get(start.strftime("%Y-%m-%d"), 0.0) + kw
    assert energy["values_array"][index] == pytest.approx([charged[d] for d in sorted(charged)], abs=1e-3)
    other = harness.client.get("/myems/reports/microgridsbilling", headers=login(harness, BOB),
                               params={"useruuid": user_uuid})
    assert other.status_code == 403


STATION_TYPES = {"id": int, "name": str, "uuid": str, "address": str, "postal_code": str, "latitude": float,
                 "longitude": float, "capacity": float, "contact": dict, "cost_center": dict, "svg": str,
                 "description": str, "qrcode": str}


def test_photovoltaic_power_stations(harness):
    headers = login(harness)
    body = {k: v for k, v in _microgrid(harness).items() if k not in ("architecture_type_id", "owner_type_id")}
    seed_request = harness.client.post("/myems/photovoltaicpowerstations", content=json.dumps({"data": body}),
                                       headers={**headers, "Content-Type": "application/TBD"})  # as the seed sends it
    assert seed_request.status_code == 201, seed_request.text
    station = int(seed_request.headers["Location"].rsplit("/", 1)[1])
    item = harness.client.get(f"/myems/photovoltaicpowerstations/{station}", headers=headers).json()
    assert list(item) == list(STATION_TYPES) and {k: type(v) for k, v in item.items()} == STATION_TYPES
    assert item["qrcode"] == "photovoltaicpowerstation:" + item["uuid"]
    asset = harness.client.get(f"/api/v3_0/assets/{station}", headers=harness.headers()).json()
    assert asset["name"] == "Beijing Office"  # the platform's own solar asset
    assert harness.client.put(f"/myems/photovoltaicpowerstations/{station}", headers=headers,
                              json={"data": {**body, "capacity": 700}}).status_code == 200
    assert harness.client.get(f"/myems/photovoltaicpowerstations/{station}/export",
                              headers=headers).json()["capacity"] == 700
    clone = harness.client.post(f"/myems/photovoltaicpowerstations/{station}/clone", headers=headers)
    assert clone.status_code == 201
    same = harness.client.post("/myems/photovoltaicpowerstations", headers=headers, json={"data": body})
    assert same.json()["description"] == "API.PHOTOVOLTAIC_POWER_STATION_NAME_IS_ALREADY_IN_USE"
    assert harness.client.get(f"/myems/photovoltaicpowerstations/{station}", headers=login(harness, BOB)
                              ).status_code == 403
    assert harness.client.delete(f"/myems/photovoltaicpowerstations/{station}", headers=headers).status_code == 204
    assert harness.client.get(f"/myems/photovoltaicpowerstations/{station}", headers=headers).status_code == 404


CONTAINER_TYPES = {"id": int, "name": str, "uuid": str, "rated_capacity": float, "rated_power": float,
                   "contact": dict, "cost_center": dict, "svg": dict, "description": str, "qrcode": str}


def test_energy_storage_containers_and_their_devices(harness):
    headers = login(harness)
    body = {"name": "Container 1", "rated_capacity": 600.000, "rated_power": 200.000, "contact_id": _alice_id(harness),
            "cost_center_id": harness.world.accounts["Alpha"], "svg_id": "1", "description": "Classic"}
    container = _post(harness, "/myems/energystoragecontainers", body, headers)
    item = harness.client.get(f"/myems/energystoragecontainers/{container}", headers=headers).json()
    assert list(item) == list(CONTAINER_TYPES) and {k: type(v) for k, v in item.items()} == CONTAINER_TYPES
    base = f"/myems/energystoragecontainers/{container}"
    battery = _post(harness, f"{base}/batteries", {"name": "Battery", "battery_state_point_id": 1, "soc_point_id": 2,
                                                   "power_point_id": 3, "rated_capacity": 300, "rated_power": 100,
                                                   "nominal_voltage": 48}, headers)
    grid = _post(harness, f"{base}/grids", {"name": "Grid", "power_point_id": 1, "capacity": 30}, headers)
    _post(harness, f"{base}/loads", {"name": "Load", "power_point_id": 1, "rated_input_power": 30}, headers)
    _post(harness, f"{base}/powerconversionsystems", {"name": "PCS1", "run_state_point_id": 1,
                                                      "rated_output_power": 30}, headers)
    got = harness.client.get(f"{base}/batteries/{battery}", headers=headers).json()
    assert (got["rated_capacity"], got["rated_power"], got["soc_point"]) == (300, 100, {"id": 2})
    assert [g["id"] for g in harness.client.get(f"{base}/grids", headers=headers).json()] == [grid]
    assert harness.client.put(f"{base}/batteries/{battery}", headers=headers, json={"data": {
        "name": "Battery", "rated_capacity": 400, "rated_power": 100}}).status_code == 200
    model = harness.client.get(f"/api/v3_0/assets/{battery}", headers=harness.headers()).json()["flex_model"]
    model = json.loads(model) if isinstance(model, str) else model  # FlexMeasures sends JSON fields as text
    assert model["soc-max"] == "400.0 kWh"  # the platform's own flex-model
    blocked = harness.client.delete(base, headers=headers)
    assert blocked.status_code == 400 and blocked.json()["description"] == "API.THERE_IS_RELATION_WITH_DEVICES"
    assert harness.client.get(f"{base}/batteries/{grid}", headers=headers).status_code == 404
    assert harness.client.get(base, headers=login(harness, BOB)).status_code == 403
    assert harness.client.delete(f"{base}/grids/{grid}", headers=headers).status_code == 204
    assert harness.client.get(f"{base}/grids", headers=headers).json() == []
