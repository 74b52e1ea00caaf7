"""MyEMS operator schedules (issue 14): ``energystoragecontainers/{id}/schedules`` and
``microgrids/{id}/schedules`` with the seed's requests, MyEMS' row field by field, and the
platform's scheduler holding the batteries to them: a charge override gives its power in its window
even where prices say discharge, an idle one 0 kW, and without it the optimiser decides again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from myems_support import (
    login,
    myems_scheduling_harness,  # noqa: F401 - the harness fixture
)
from scheduling_support import ALICE, BOB, PASSWORD, SchedulingHarness

from commands import registry as cmd
from commands.readings import RecordSensorData, record_sensor_data

SEED_SCHEDULE = {"start_time_of_day": "00:00:00", "end_time_of_day": "07:00:00", "peak_type": "offpeak", "power": 60}
ROW_TYPES = {"id": int, "start_time_of_day": str, "end_time_of_day": str, "peak_type": str, "power": float}
DAY = datetime(2015, 6, 10, tzinfo=UTC)


def _post(h: SchedulingHarness, path: str, body: dict, headers: dict) -> int:
    response = h.client.post(path, json={"data": body}, headers=headers)
    assert response.status_code == 201, response.text
    return int(response.headers["Location"].rsplit("/", 1)[1])


def _owner_ids(h: SchedulingHarness) -> dict:
    me = h.client.put("/myems/users/login", json={"data": {"email": ALICE, "password": PASSWORD}}).json()
    return {"contact_id": me["id"], "cost_center_id": h.world.accounts["Alpha"]}


def _container(h: SchedulingHarness, headers: dict, name: str) -> tuple[int, int]:
    """A container (50 kW) with one battery (200 kWh, 50 kW): its id and the battery's power sensor."""
    container = _post(h, "/myems/energystoragecontainers", {
        "name": name, "rated_capacity": 200, "rated_power": 50, "svg_id": "1", **_owner_ids(h)}, headers)
    battery = _post(h, f"/myems/energystoragecontainers/{container}/batteries", {
        "name": "Battery", "rated_capacity": 200, "rated_power": 50}, headers)
    got = h.client.get(f"/myems/energystoragecontainers/{container}/batteries/{battery}", headers=headers).json()
    return container, got["power_point"]["id"]


def test_container_schedules_crud_field_by_field(harness):
    headers = login(harness)
    container, _ = _container(harness, headers, "Schedules CRUD")
    base = f"/myems/energystoragecontainers/{container}/schedules"
    seed = harness.client.post(base, json={"data": SEED_SCHEDULE}, headers=headers)  # the seed's own request
    assert seed.status_code == 201 and seed.headers["Location"].startswith(f"{base}/"), seed.text
    first = int(seed.headers["Location"].rsplit("/", 1)[1])
    rows = harness.client.get(base, headers=headers).json()
    assert [list(r) for r in rows] == [list(ROW_TYPES)]
    assert {k: type(v) for k, v in rows[0].items()} == ROW_TYPES
    assert rows[0] == {"id": first, **SEED_SCHEDULE, "power": 60.0}
    later = _post(harness, base, {"start_time_of_day": "7:00:00", "end_time_of_day": "09:00:00",
                                  "peak_type": "onpeak", "power": 20, "command": "discharge"}, headers)
    assert harness.client.get(f"{base}/{later}", headers=headers).json() == {
        "id": later, "start_time_of_day": "07:00:00", "end_time_of_day": "09:00:00", "peak_type": "onpeak",
        "power": -20.0}  # discharging is production: negative
    put = harness.client.put(f"{base}/{first}", headers=headers, json={"data": {**SEED_SCHEDULE, "power": 40}})
    assert put.status_code == 200, put.text
    assert [r["power"] for r in harness.client.get(base, headers=headers).json()] == [40.0, -20.0]
    for body, description in (({**SEED_SCHEDULE, "end_time_of_day": "08:00:00"}, "API.SCHEDULE_OVERLAPS"),
                              ({**SEED_SCHEDULE, "start_time_of_day": "25:00:00"}, "API.INVALID_START_TIME_OF_DAY"),
                              ({**SEED_SCHEDULE, "peak_type": "high"}, "API.INVALID_PEAK_TYPE"),
                              ({**SEED_SCHEDULE, "power": "60"}, "API.INVALID_POWER"),
                              ({**SEED_SCHEDULE, "command": "boost"}, "API.INVALID_COMMAND")):
        response = harness.client.post(base, json={"data": body}, headers=headers)
        assert response.status_code == 400 and response.json()["description"] == description, response.text
    assert harness.client.get(base, headers=login(harness, BOB)).status_code == 403
    assert harness.client.delete(f"{base}/{first}", headers=login(harness, BOB)).status_code == 403
    assert harness.client.delete(f"{base}/{first}", headers=headers).status_code == 204
    missing = harness.client.get(f"{base}/{first}", headers=headers)
    assert missing.status_code == 404
    assert missing.json()["description"] == "API.ENERGY_STORAGE_CONTAINER_SCHEDULE_NOT_FOUND"
    assert [r["id"] for r in harness.client.get(base, headers=headers).json()] == [later]


def test_microgrid_schedules_crud(harness):
    headers = login(harness)
    microgrid = _post(harness, "/myems/microgrids", {
        "name": "Schedules MG", "address": "x", "postal_code": "1", "latitude": 52.0, "longitude": 4.3,
        "capacity": 30, "architecture_type_id": 1, "owner_type_id": 1, "svg": "<svg></svg>", **_owner_ids(harness)},
        headers)  # fmt: skip
    base = f"/myems/microgrids/{microgrid}/schedules"
    sid = _post(harness, base, SEED_SCHEDULE, headers)
    assert harness.client.get(base, headers=headers).json() == [{"id": sid, **SEED_SCHEDULE, "power": 60.0}]
    assert harness.client.put(f"{base}/{sid}", headers=headers, json={"data": {
        **SEED_SCHEDULE, "command": "idle"}}).status_code == 200  # idle: power 0 whatever was sent
    assert harness.client.get(f"{base}/{sid}", headers=headers).json()["power"] == 0.0
    assert harness.client.delete(f"{base}/{sid}", headers=headers).status_code == 204
    assert harness.client.get(base, headers=headers).json() == []


def test_seed_microgridschedules_family_serves_the_same_rows(harness):
    """The seed's flat ``microgridschedules`` requests over the rows of ``microgrids/{id}/schedules``; the
    seed's create names no microgrid, so flexledger takes ``microgrid_id`` as MyEMS' microgrid device bodies."""
    headers = login(harness)
    microgrid = _post(harness, "/myems/microgrids", {
        "name": "Flat schedules MG", "address": "x", "postal_code": "1", "latitude": 52.0, "longitude": 4.3,
        "capacity": 30, "architecture_type_id": 1, "owner_type_id": 1, "svg": "<svg></svg>", **_owner_ids(harness)},
        headers)  # fmt: skip
    seed = harness.client.post("/myems/microgridschedules", headers=headers, json={"data": SEED_SCHEDULE})
    assert (seed.status_code, seed.json()["description"], seed.json()["field"]) == (
        400, "API.INVALID_MICROGRID_ID", "microgrid_id")
    sid = _post(harness, "/myems/microgridschedules", {**SEED_SCHEDULE, "microgrid_id": microgrid}, headers)
    nested = harness.client.get(f"/myems/microgrids/{microgrid}/schedules/{sid}", headers=headers).json()
    flat = harness.client.get(f"/myems/microgridschedules/{sid}", headers=headers).json()
    assert flat == nested == {"id": sid, **SEED_SCHEDULE, "power": 60.0}
    assert {k: type(v) for k, v in flat.items()} == ROW_TYPES
    assert flat in harness.client.get("/myems/microgridschedules", headers=headers).json()
    evening = {**SEED_SCHEDULE, "start_time_of_day": "18:00:00", "end_time_of_day": "22:00:00", "power": -30}
    assert harness.client.put(f"/myems/microgridschedules/{sid}", headers=headers,
                              json={"data": evening}).status_code == 200  # the seed's PUT names no microgrid
    moved = harness.client.get(f"/myems/microgrids/{microgrid}/schedules", headers=headers).json()
    assert moved == [{"id": sid, **evening, "power": -30.0}]
    bob = login(harness, BOB)
    assert harness.client.get(f"/myems/microgridschedules/{sid}", headers=bob).status_code == 404
    foreign = harness.client.post("/myems/microgridschedules", headers=bob,
                                  json={"data": {**SEED_SCHEDULE, "microgrid_id": microgrid}})
    assert foreign.status_code == 403  # another account's microgrid
    assert harness.client.delete(f"/myems/microgridschedules/{sid}", headers=headers).status_code == 204
    gone = harness.client.get(f"/myems/microgridschedules/{sid}", headers=headers)
    assert (gone.status_code, gone.json()["description"]) == (404, "API.MICROGRID_SCHEDULE_NOT_FOUND")
    assert harness.client.get(f"/myems/microgrids/{microgrid}/schedules", headers=headers).json() == []

def _prices(h: SchedulingHarness) -> int:
    """A price sensor for DAY: 200 EUR/MWh from 02:00 to 04:00 UTC, 50 otherwise."""
    ctx = h.platform.commands
    sensor = cmd.register_sensor(ctx, cmd.RegisterSensor(asset_id=h.world.assets["market"], name="peaky prices",
                                                         unit="EUR/MWh", event_resolution_s=3600))
    values = [200.0 if 2 <= hour < 4 else 50.0 for hour in range(24)]
    record_sensor_data(ctx, RecordSensorData(sensor_id=sensor, start=DAY, duration=timedelta(days=1), values=values,
                                             unit="EUR/MWh", source="market operator"))
    return sensor


def _schedule(h: SchedulingHarness, container: int, sensor: int, prices: int) -> tuple[list[float], dict]:
    """The battery's planned power (kW per quarter hour, 00:00-06:00 UTC) of a new trigger, and the schedule."""
    response = h.client.post(f"/api/v3_0/assets/{container}/schedules/trigger", headers=h.headers(), json={
        "start": DAY.isoformat(), "duration": "PT6H", "flex-model": [{"sensor": sensor, "soc-at-start": "100 kWh"}],
        "flex-context": {"consumption-price": {"sensor": prices}}})
    assert response.status_code == 200, response.text
    h.settle()
    schedule = h.client.get(f"/api/v3_0/sensors/{sensor}/schedules/{response.json()['schedule']}",
                            params={"duration": "PT6H"}, headers=h.headers())
    assert schedule.status_code == 200, schedule.text
    return schedule.json()["values"], schedule.json()


def test_overrides_hold_the_battery_and_removing_them_frees_it(harness):
    headers = login(harness)
    prices = _prices(harness)
    container, sensor = _container(harness, headers, "Overridden")
    window = slice(8, 16)  # 02:00-04:00 UTC in quarter hours (the battery's sensor keeps UTC)
    free, _ = _schedule(harness, container, sensor, prices)
    assert all(v == pytest.approx(-50) for v in free[window])  # the optimiser sells at 200 EUR/MWh
    base = f"/myems/energystoragecontainers/{container}/schedules"
    sid = _post(harness, base, {"start_time_of_day": "02:00:00", "end_time_of_day": "04:00:00",
                                "peak_type": "toppeak", "power": 50}, headers)
    held, body = _schedule(harness, container, sensor, prices)
    assert all(v == pytest.approx(50) for v in held[window])  # charging at 50 kW although prices peak
    assert any("Operator schedules" in note for note in body.get("notes", [])), body  # shown beside it
    rows = harness.client.get(base, headers=headers, params={"computed": "true"}).json()
    assert rows[0] == {"id": sid, "start_time_of_day": "02:00:00", "end_time_of_day": "04:00:00",
                       "peak_type": "toppeak", "power": 50.0}  # the operator's row, then the computed steps
    steps = rows[1:]
    assert [r["power"] for r in steps] == pytest.approx(held) and {r["schedule"] for r in steps} == {body["schedule"]}
    assert (steps[8]["start_time_of_day"], steps[8]["start_datetime_utc"]) == ("02:00:00", "2015-06-10T02:00:00")
    assert harness.client.get(base, headers=headers).json() == rows[:1]  # MyEMS' own answer: the rows only
    assert harness.client.put(f"{base}/{sid}", headers=headers, json={"data": {
        "start_time_of_day": "02:00:00", "end_time_of_day": "04:00:00", "peak_type": "toppeak",
        "power": 0, "command": "idle"}}).status_code == 200
    idle, _ = _schedule(harness, container, sensor, prices)
    assert all(v == pytest.approx(0, abs=1e-6) for v in idle[window])
    assert harness.client.delete(f"{base}/{sid}", headers=headers).status_code == 204
    again, _ = _schedule(harness, container, sensor, prices)
    assert all(v == pytest.approx(-50) for v in again[window])
