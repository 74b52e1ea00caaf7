"""FlexMeasures API v2.0 control: postUdiEvent -> scheduler -> getDeviceMessage, in process."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pydantic
import pytest
import sqlalchemy as sa
from scheduling_support import BOB, DAY, SchedulingHarness

from api.routers.schedule_common import wait_for_schedule
from infra.settings import Settings
from projections import schedules as sq
from projections.readings_query import BeliefFilter, latest_values
from streams.scheduler import SchedulerProcessor, SolverOptions

STEP_H = 0.25


@pytest.fixture
def harness(tmp_path):
    h = SchedulingHarness(tmp_path)
    try:
        yield h
    finally:
        h.close()


def soc_after(start_kwh: float, values_kw: list[float], steps: int) -> float:
    """SoC after ``steps`` steps of 15 minutes (no losses)."""
    return start_kwh + sum(values_kw[:steps]) * STEP_H


def test_udi_event_then_device_message_reaches_the_target(harness: SchedulingHarness) -> None:
    message = harness.udi_message(event_id=203)
    response = harness.post_udi(message)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "type": "PostUdiEventResponse", "status": "PROCESSED", "message": "Request has been processed."
    }  # fmt: skip

    answer = harness.device_message(message["event"], unit="kW")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["type"] == "GetDeviceMessageResponse"
    assert body["event"] == message["event"]
    assert body["start"] == "2015-06-02T12:00:00+02:00"  # the device's time zone, same instant as 10:00Z
    assert body["duration"] == "PT6H"
    assert body["unit"] == "kW"
    values = body["values"]
    assert len(values) == 24
    assert all(-20 - 1e-9 <= v <= 20 + 1e-9 for v in values)
    assert soc_after(12.1, values, 24) >= 60 - 1e-6  # the target at 16:00Z
    assert body["scheduling_result"] == {"unresolved": [], "resolved": []}

    in_mw = harness.device_message(message["event"]).json()  # default unit: MW
    assert in_mw["unit"] == "MW"
    assert in_mw["values"] == pytest.approx([v / 1000 for v in values])
    shorter = harness.device_message(message["event"], duration="PT1H", unit="kW").json()
    assert (shorter["duration"], shorter["values"]) == ("PT1H", values[:4])


def test_unreachable_target_gives_a_best_effort_schedule_with_the_shortfall(harness: SchedulingHarness) -> None:
    target_at = DAY + timedelta(hours=1)
    message = harness.udi_message(event_id=7, value=10, targets=[{"value": 100, "datetime": target_at.isoformat()}])
    assert harness.post_udi(message).status_code == 200

    body = harness.device_message(message["event"], unit="kW", duration="PT1H").json()
    assert body["values"] == pytest.approx([20.0] * 4)  # full power: as close as it gets, never all-zero
    (unmet,) = body["scheduling_result"]["unresolved"]
    assert unmet["constraint"] == "soc-target"
    assert unmet["sensor"] == harness.world.sensors["battery/power"]
    assert unmet["amount"] == pytest.approx(100 - 10 - 20)
    assert unmet["unit"] == "kWh"
    assert unmet["datetime"] == target_at.isoformat()

    schedule_id = harness.read(sa.select(sq.udi_events.c.schedule_id))[0]["schedule_id"]
    consistency = harness.client.app.state.services.consistency
    assert wait_for_schedule(consistency, uuid.UUID(schedule_id), 0, with_job=True)  # the job ends after
    job = harness.client.get(f"/api/v3_0/jobs/{schedule_id}", headers=harness.headers())
    assert job.status_code == 200
    assert job.json()["status"] == "FINISHED"
    assert job.json()["result"]["scheduling_result"]["unresolved"][0]["amount"] == pytest.approx(70)


def test_schedule_values_are_beliefs_of_the_scheduler_on_the_power_sensor(harness: SchedulingHarness) -> None:
    message = harness.udi_message(event_id=1)
    assert harness.post_udi(message).status_code == 200
    values = harness.device_message(message["event"], unit="kW").json()["values"]
    harness.settle()  # the beliefs follow the schedule's outcome; the readings read model may lag behind
    harness.wait_projected()

    sensor_id = harness.world.sensors["battery/power"]
    data = harness.client.get(
        f"/api/v3_0/sensors/{sensor_id}/data",
        params={"start": DAY.isoformat(), "duration": "PT6H", "unit": "kW", "source": "scheduler"},
        headers=harness.headers(),
    )
    assert data.status_code == 200, data.text
    assert data.json()["values"] == pytest.approx(values)
    with harness.platform.read_models.read_engine.connect() as conn:
        start_s = int(DAY.timestamp())
        typed = latest_values(conn, sensor_id, start_s, start_s + 6 * 3600, BeliefFilter(source_types=["scheduler"]))
    assert len(typed) == 24


def test_a_newer_udi_event_supersedes_the_older_schedule_and_both_stay(harness: SchedulingHarness) -> None:
    first = harness.udi_message(event_id=1)
    second = harness.udi_message(event_id=2, value=40, datetime=(DAY + timedelta(minutes=30)).isoformat())
    assert harness.post_udi(first).status_code == 200
    assert harness.post_udi(second).status_code == 200

    sensor_id = harness.world.sensors["battery/power"]
    rows = harness.read(sa.select(sq.schedule_devices).where(sq.schedule_devices.c.sensor_id == sensor_id))
    by_position = sorted(rows, key=lambda r: r["position"])
    assert len(by_position) == 2
    assert by_position[0]["superseded_by"] == by_position[1]["schedule_id"]
    assert by_position[1]["superseded_by"] is None
    with harness.platform.read_models.read_engine.connect() as conn:
        assert sq.current_device_schedule(conn, sensor_id)["schedule_id"] == by_position[1]["schedule_id"]

    old = harness.device_message(first["event"], unit="kW").json()  # history: the first event's own schedule
    new = harness.device_message(second["event"], unit="kW").json()
    assert old["start"] == "2015-06-02T12:00:00+02:00"
    assert new["start"] == "2015-06-02T12:30:00+02:00"


def test_state_of_charge_in_percent_of_soc_max(harness: SchedulingHarness) -> None:
    message = harness.udi_message(
        event_id=3, value=50, unit="%", targets=[{"value": 80, "datetime": "2015-06-02T16:00:00Z"}]
    )
    assert harness.post_udi(message).status_code == 200
    (row,) = harness.read(sa.select(sq.udi_events))
    assert row["soc_kwh"] == pytest.approx(50.0)
    values = harness.device_message(message["event"], unit="kW").json()["values"]
    assert soc_after(50, values, 24) >= 80 - 1e-6


def test_event_ids_must_increase_per_device(harness: SchedulingHarness) -> None:
    assert harness.post_udi(harness.udi_message(event_id=5)).status_code == 200
    harness.settle()
    head = harness.head
    for event_id in (5, 4):
        response = harness.post_udi(harness.udi_message(event_id=event_id))
        assert response.status_code == 400
        assert (response.json()["status"], response.json()["field"]) == ("OUTDATED_UDI_EVENT", "event")
    earlier = harness.post_udi(harness.udi_message(event_id=6, datetime=(DAY - timedelta(hours=1)).isoformat()))
    assert (earlier.status_code, earlier.json()["status"]) == (400, "INVALID_DATETIME")
    assert harness.head == head  # nothing appended
    other_device = harness.post_udi(harness.udi_message(asset="evse", event_id=1))  # ids are per device
    assert other_device.status_code == 200, other_device.text


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"type": "PostMeterDataRequest"}, "INVALID_MESSAGE_TYPE", "type"),
        ({"type": None}, "INVALID_MESSAGE_TYPE", "type"),
        ({"event": None}, "INVALID_DOMAIN", "event"),
        ({"event": "ea2.2018-06.io.flexmeasures:1:2:3:soc"}, "INVALID_DOMAIN", "event"),
        ({"event": "ea1.2018-06.io.flexmeasures:1:2:3:temperature"}, "UNRECOGNIZED_UDI_EVENT", "event"),
        ({"unit": "kW"}, "INVALID_UNIT", "unit"),
        ({"unit": None}, "INVALID_UNIT", "unit"),
        ({"datetime": None}, "INVALID_DATETIME", "datetime"),
        ({"datetime": "yesterday"}, "INVALID_DATETIME", "datetime"),
        ({"datetime": "2015-06-02T10:00:00"}, "INVALID_TIMEZONE", "datetime"),
        ({"value": None}, "PTUS_INCOMPLETE", "value"),
        ({"value": "twelve"}, "PTUS_INCOMPLETE", "value"),
        ({"targets": None}, "INCOMPLETE_UDI_EVENT", "targets"),
        ({"targets": [{"datetime": "2015-06-02T16:00:00Z"}]}, "PTUS_INCOMPLETE", "targets[0].value"),
        ({"targets": [{"value": 30}]}, "INVALID_DATETIME", "targets[0].datetime"),
        ({"targets": [{"value": 30, "datetime": "2015-06-02T16:00:00"}]}, "INVALID_TIMEZONE", "targets[0].datetime"),
        ({"targets": [{"value": 30, "datetime": "2015-06-09T16:00:00Z"}]}, "INVALID_DATETIME", "targets[0].datetime"),
        ({"targets": [{"value": 30, "datetime": "2015-06-02T09:00:00Z"}]}, "INVALID_DATETIME", "targets[0].datetime"),
        ({"roundtrip_efficiency": 1.5}, "UNPROCESSABLE_ENTITY", "flex-model.roundtrip-efficiency"),
    ],
)
def test_bad_udi_events_are_refused_with_a_code_and_field(harness: SchedulingHarness, change, code, field) -> None:
    head = harness.head
    message = {**harness.udi_message(event_id=9), **change}
    response = harness.post_udi({k: v for k, v in message.items() if v is not None})
    assert response.status_code == 400, response.text
    body = response.json()
    assert (body["type"], body["result"], body["status"], body.get("field")) == (
        "PostUdiEventResponse", "Rejected", code, field
    )  # fmt: skip
    assert harness.head == head


@pytest.mark.parametrize(
    ("asset", "owner", "email", "status", "code"),
    [
        ("beta-battery", "Beta", None, 400, "UNRECOGNIZED_CONNECTION_GROUP"),  # another account's device
        ("battery", "Beta", None, 400, "UNRECOGNIZED_CONNECTION_GROUP"),  # wrong owner in the address
        ("building", "Alpha", None, 400, "INVALID_DOMAIN"),  # not a battery or EVSE
        ("battery", "Alpha", BOB, 403, "INVALID_SENDER"),  # Bob's account has no Prosumer/ESCo role
    ],
)
def test_udi_events_only_for_the_users_devices(harness: SchedulingHarness, asset, owner, email, status, code) -> None:
    head = harness.head
    message = harness.udi_message(asset=asset, event_id=1, event=harness.address(asset, 1, owner=owner))
    response = harness.post_udi(message, **({"email": email} if email else {}))
    assert (response.status_code, response.json()["status"]) == (status, code)
    assert harness.head == head


def test_unauthenticated_and_wrong_methods(harness: SchedulingHarness) -> None:
    response = harness.client.post("/api/v2_0/postUdiEvent", json=harness.udi_message())
    assert (response.status_code, response.json()["status"]) == (401, "UNAUTHORIZED")
    wrong = harness.client.post("/api/v2_0/getDeviceMessage", headers=harness.headers())
    assert (wrong.status_code, wrong.json()["status"]) == (405, "INVALID_METHOD")
    wrong = harness.client.get("/api/v2_0/postUdiEvent", headers=harness.headers())
    assert (wrong.status_code, wrong.json()["status"]) == (405, "INVALID_METHOD")


def test_device_message_errors(harness: SchedulingHarness) -> None:
    message = harness.udi_message(event_id=11)
    assert harness.post_udi(message).status_code == 200
    cases = [
        ({"event": harness.address("battery", 12)}, "UNRECOGNIZED_UDI_EVENT", "event"),
        ({"event": "nonsense"}, "INVALID_DOMAIN", "event"),
        ({"event": harness.address("battery", 11, "flux")}, "UNRECOGNIZED_UDI_EVENT", "event"),
        ({"event": message["event"], "unit": "kWh"}, "INVALID_UNIT", "unit"),
        ({"event": message["event"], "duration": "soon"}, "INVALID_PERIOD", "duration"),
        ({"event": message["event"], "type": "GetMeterDataRequest"}, "INVALID_MESSAGE_TYPE", "type"),
    ]
    for params, code, field in cases:
        query = {"type": "GetDeviceMessageRequest", **params}
        response = harness.client.get("/api/v2_0/getDeviceMessage", params=query, headers=harness.headers())
        assert response.status_code == 400, (params, response.text)
        assert (response.json()["status"], response.json().get("field")) == (code, field), params
    other = harness.device_message(message["event"], email=BOB)  # no Prosumer/ESCo role: not a sender
    assert (other.status_code, other.json()["status"]) == (403, "INVALID_SENDER")


def test_a_schedule_that_cannot_be_computed_is_reported(harness: SchedulingHarness) -> None:
    later = DAY + timedelta(days=30)  # no prices known then
    message = harness.udi_message(
        event_id=1,
        datetime=later.isoformat(),
        targets=[{"value": 20, "datetime": (later + timedelta(hours=2)).isoformat()}],
    )
    assert harness.post_udi(message).status_code == 200
    response = harness.device_message(message["event"])
    assert (response.status_code, response.json()["status"]) == (400, "UNKNOWN_SCHEDULE")
    assert "Scheduling job failed with UNKNOWN_PRICES" in response.json()["message"]


def test_without_a_price_in_the_flex_context_a_flat_price_is_assumed(harness: SchedulingHarness) -> None:
    message = harness.udi_message(asset="bare-battery", event_id=1)
    assert harness.post_udi(message).status_code == 200
    values = harness.device_message(message["event"], unit="kW").json()["values"]
    assert soc_after(12.1, values, 24) >= 60 - 1e-6
    (row,) = harness.read(sa.select(sq.schedules.c.notes))
    assert "flat price" in row["notes"][0]


def test_while_the_scheduler_has_not_run_the_schedule_is_waiting(tmp_path) -> None:
    harness = SchedulingHarness(tmp_path, scheduler=False)
    try:
        message = harness.udi_message(event_id=1)
        assert harness.post_udi(message).status_code == 200  # answered without waiting for a scheduler
        harness.wait_projected()
        response = harness.device_message(message["event"])
        assert (response.status_code, response.json()["status"]) == (400, "UNKNOWN_SCHEDULE")
        assert response.json()["message"] == "Scheduling job waiting to be processed."

        scheduler = SchedulerProcessor(
            harness.platform.store, harness.platform.read_models.write_engine, checkpoints=harness.platform.checkpoints
        )
        scheduler.process("*", harness.platform.store.read_all(0, 10_000))  # a late worker catches up
        harness.wait_projected()
        assert harness.device_message(message["event"]).status_code == 200
    finally:
        harness.close()


def test_the_solver_backend_and_limits_come_from_the_settings(tmp_path) -> None:
    harness = SchedulingHarness(
        tmp_path, scheduler_backend="scip", scheduler_time_limit_s=5.0, scheduler_relative_gap=0.01
    )
    try:
        (scheduler,) = [p for p in harness.platform.processors if isinstance(p, SchedulerProcessor)]
        assert scheduler.options == SolverOptions(time_limit_s=5.0, relative_gap=0.01, backend="scip")
        message = harness.udi_message(event_id=1)
        assert harness.post_udi(message).status_code == 200
        values = harness.device_message(message["event"], unit="kW").json()["values"]
        assert soc_after(12.1, values, 24) >= 60 - 1e-6  # SCIP reaches the target as HiGHS does
    finally:
        harness.close()


@pytest.mark.parametrize(
    "setting", [{"scheduler_backend": "cbc"}, {"scheduler_time_limit_s": 0}, {"scheduler_relative_gap": 1.5}]
)
def test_bad_solver_settings_are_refused_at_start_naming_the_setting(setting) -> None:
    with pytest.raises(pydantic.ValidationError, match=next(iter(setting))):
        Settings(**setting)
