"""v3 schedule response states how good it is: solver status, proven gap, cost, unmet constraints."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from scheduling_support import DAY, SchedulingHarness


@pytest.fixture
def harness(tmp_path):
    h = SchedulingHarness(tmp_path)
    try:
        yield h
    finally:
        h.close()


def schedule_of(harness: SchedulingHarness, target_kwh: str) -> dict:
    evse = harness.world.sensors["evse/power"]
    body = {
        "start": DAY.isoformat(),
        "duration": "PT8H",
        "flex-model": [{
            "sensor": evse, "soc-at-start": "10 kWh", "no-pauses": True, "min-charging-power": "4.14 kW",
            "soc-targets": [{"datetime": (DAY + timedelta(hours=4)).isoformat(), "value": target_kwh}],
        }],
    }  # fmt: skip
    asset = harness.world.assets["site"]
    response = harness.client.post(f"/api/v3_0/assets/{asset}/schedules/trigger", json=body, headers=harness.headers())
    assert response.status_code == 200, response.text
    got = harness.client.get(f"/api/v3_0/sensors/{evse}/schedules/{response.json()['schedule']}",
                             params={"duration": "PT8H"}, headers=harness.headers())  # fmt: skip
    assert got.status_code == 200, got.text
    return got.json()


def test_a_reachable_target_is_optimal_with_its_cost(harness: SchedulingHarness) -> None:
    body = schedule_of(harness, "40 kWh")
    solver = body["solver"]
    assert solver["status"] == "optimal" and solver["unmet_constraints"] == 0
    assert solver["cost_eur"] > 0
    assert solver["gap"] is not None and 0 <= solver["gap"] <= 1e-4  # the gap proven, not the one requested
    values = body["values"]
    on = [i for i, v in enumerate(values) if v > 1e-6]
    assert on == list(range(on[0], on[-1] + 1))  # no pauses


def test_an_unreachable_target_is_infeasible_relaxed_and_listed_in_the_sensor_timezone(harness) -> None:
    body = schedule_of(harness, "200 kWh")  # 11 kW for 4 h cannot add 190 kWh
    assert body["solver"]["status"] == "infeasible-relaxed"
    assert body["solver"]["unmet_constraints"] == 1
    assert body["solver"]["cost_eur"] > 0 and body["solver"]["gap"] is not None
    (unmet,) = body["scheduling_result"]["unresolved"]
    start, moment = datetime.fromisoformat(body["start"]), datetime.fromisoformat(unmet["datetime"])
    assert moment.utcoffset() == start.utcoffset()  # one timezone convention in the response
    assert moment == DAY + timedelta(hours=4)


def test_without_duration_the_first_6_hours_are_returned_as_flexmeasures_does(harness) -> None:
    """FlexMeasures' GET schedule defaults ``duration`` to 6 hours (its ``get_schedule``), not to
    the whole schedule: an 8-hour schedule answers 6 hours without ``duration``, 8 with PT8H."""
    whole = schedule_of(harness, "40 kWh")
    evse = harness.world.sensors["evse/power"]
    got = harness.client.get(f"/api/v3_0/sensors/{evse}/schedules/{whole['schedule']}", headers=harness.headers())
    assert got.status_code == 200, got.text
    default = got.json()
    assert (default["duration"], whole["duration"]) == ("PT6H", "PT8H")
    assert default["start"] == whole["start"]
    assert len(default["values"]) * 8 == len(whole["values"]) * 6
    assert default["values"] == whole["values"][: len(default["values"])]
