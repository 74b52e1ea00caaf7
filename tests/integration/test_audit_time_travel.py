"""Time travel over real HTTP (in process): the flex-model in force when a schedule was made,
the schedule current at a position or time, access and input checks."""

from __future__ import annotations

import pytest
from scheduling_support import BOB, SchedulingHarness

from commands import registry as cmd


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    h = SchedulingHarness(tmp_path_factory.mktemp("time-travel"))
    try:
        yield h
    finally:
        h.close()


def get(h: SchedulingHarness, path: str, email: str | None = None, **params) -> dict:
    response = h.client.get(path, params=params, headers=h.headers(email) if email else h.headers())
    assert response.status_code == 200, response.text
    return response.json()


def schedules(h: SchedulingHarness) -> list[dict]:
    return get(h, "/api/audit/events", type="ScheduleComputed", limit=1000)["events"]


def test_flex_model_in_force_when_a_schedule_was_made_and_the_schedule_current_then(harness) -> None:
    battery, power = harness.world.assets["battery"], harness.world.sensors["battery/power"]
    before = harness.head
    assert harness.post_udi(harness.udi_message(event_id=1)).status_code == 200
    harness.settle()
    first = schedules(harness)[-1]
    changed = {"flex_model": {"soc-max": "80 kWh", "soc-min": "0 kWh", "power-capacity": "20 kW"}}
    cmd.change_asset(harness.platform.commands, cmd.ChangeAsset(asset_id=battery, changes=changed))
    assert harness.post_udi(harness.udi_message(event_id=2, targets=[])).status_code == 200
    harness.settle()
    second = schedules(harness)[-1]
    assert second["id"] > first["id"]

    then = get(harness, f"/api/audit/as-of/assets/{battery}", event_id=first["event_id"])
    assert then["asset"]["flex_model"]["soc-max"] == "100 kWh"
    assert then["as_of"]["position"] == first["id"]
    assert then["last_event"]["type"] == "AssetRegistered"
    now = get(harness, f"/api/audit/as-of/assets/{battery}")
    assert now["asset"]["flex_model"]["soc-max"] == "80 kWh" and now["last_event"]["type"] == "AssetChanged"
    by_time = get(harness, f"/api/audit/as-of/assets/{battery}", time=first["metadata"]["recorded_at"])
    assert by_time["asset"]["flex_model"]["soc-max"] == "100 kWh"
    assert get(harness, f"/api/audit/as-of/assets/{battery}", position=1)["asset"] is None  # not registered yet

    path = f"/api/audit/as-of/sensors/{power}/schedule"
    assert get(harness, path, position=first["id"])["schedule"]["event_id"] == first["event_id"]
    assert get(harness, path, position=second["id"] - 1)["schedule"]["event_id"] == first["event_id"]
    latest = get(harness, path)
    assert latest["schedule"]["event_id"] == second["event_id"] and latest["complete"]
    assert get(harness, path, position=before)["schedule"] is None
    sensor = get(harness, f"/api/audit/as-of/sensors/{power}", position=first["id"])
    assert sensor["sensor"]["unit"] == "kW"


@pytest.mark.parametrize(
    ("path", "params", "email", "status", "field"),
    [
        ("/api/audit/as-of/assets/{battery}", {}, BOB, 403, "id"),
        ("/api/audit/as-of/assets/9999", {}, None, 404, "id"),
        ("/api/audit/as-of/sensors/9999/schedule", {}, None, 404, "id"),
        ("/api/audit/as-of/assets/{battery}", {"time": "2024-01-01T00:00:00"}, None, 422, "time"),
        (
            "/api/audit/as-of/assets/{battery}",
            {"event_id": "00000000-0000-0000-0000-000000000000"},
            None,
            404,
            "event_id",
        ),
    ],
)
def test_as_of_refusals(harness, path, params, email, status, field) -> None:
    url = path.format(battery=harness.world.assets["battery"])
    response = harness.client.get(url, params=params, headers=harness.headers(email) if email else harness.headers())
    assert response.status_code == status, response.text
    assert response.json()["field"] == field
