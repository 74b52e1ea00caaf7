"""A state-of-charge reading (sensor data on a device's ``state-of-charge`` sensor) triggers a schedule.

Real HTTP through the app on the embedded platform (SQLite), with the scheduling harness's
world: the ``battery`` (100 kWh, 20 kW, under a 25 kW site) gets a 15-minute ``soc`` sensor in
kWh that its flex-model names. Readings are posted at the current time (the freshness rule
compares a reading's time with when it was recorded), so the test records prices around now.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from scheduling_support import SchedulingHarness, hourly_prices

from commands.readings import RecordSensorData, record_sensor_data
from domain.soc_readings import SOC_READING_MAX_AGE
from projections import schedules as sq
from streams.scheduler import SchedulerProcessor

QUARTER = timedelta(minutes=15)


def this_quarter() -> datetime:
    now = datetime.now(UTC)
    return now.replace(minute=now.minute // 15 * 15, second=0, microsecond=0)


class SocWorld:
    """The harness, plus a linked state-of-charge sensor on the battery and prices around now."""

    def __init__(self, harness: SchedulingHarness, link: bool = True):
        self.h = harness
        self.power = harness.world.sensors["battery/power"]
        self.soc = self._create_soc_sensor()
        midnight = this_quarter().replace(hour=0, minute=0) - timedelta(days=1)
        prices = harness.world.sensors["market/prices"]
        record_sensor_data(
            harness.platform.commands,
            RecordSensorData(
                sensor_id=prices, start=midnight, duration=timedelta(days=4), values=hourly_prices(4),
                unit="EUR/MWh", source="market operator",
            ),
        )  # fmt: skip
        if link:
            self.link()

    def _create_soc_sensor(self, unit: str = "kWh", resolution: str = "PT15M") -> int:
        body = {
            "name": f"soc in {unit} per {resolution}", "unit": unit, "event_resolution": resolution,
            "generic_asset_id": self.h.world.assets["battery"], "timezone": "Europe/Amsterdam",
        }  # fmt: skip
        response = self.h.client.post("/api/v3_0/sensors", json=body, headers=self.h.headers())
        assert response.status_code in (200, 201), response.text
        return response.json()["id"]

    def link(self, **changes) -> None:
        """Store the battery's flex-model naming the soc sensor (``changes``: fields to set, or drop with None)."""
        model = {
            "sensor": self.power, "state-of-charge": {"sensor": self.soc}, "soc-max": "100 kWh", "soc-min": "0 kWh",
            "power-capacity": "20 kW", **changes,
        }  # fmt: skip
        self.set_flex_model({k: v for k, v in model.items() if v is not None})

    def set_flex_model(self, model: dict) -> None:
        url = f"/api/v3_0/assets/{self.h.world.assets['battery']}"
        response = self.h.client.patch(url, json={"flex_model": model}, headers=self.h.headers())
        assert response.status_code == 200, response.text

    def post_soc(self, value_kwh: float, start: datetime | None = None, **fields) -> None:
        start = start or this_quarter()
        body = {"start": start.isoformat(), "duration": "PT15M", "unit": "kWh", "values": [value_kwh]}
        url = f"/api/v3_0/sensors/{self.soc}/data"
        response = self.h.client.post(url, json={**body, **fields}, headers=self.h.headers())
        assert response.status_code == 200, response.text
        self.h.settle()

    def schedules(self) -> list[dict]:
        query = sa.select(sq.schedules).where(sq.schedules.c.trigger == "reading")
        return self.h.read(query.order_by(sq.schedules.c.outcome_position))

    def planned_soc(self, duration: str) -> list[float]:
        """The scheduler's beliefs on the state-of-charge sensor, from this quarter hour on."""
        params = {"start": this_quarter().isoformat(), "duration": duration, "source": "scheduler", "unit": "kWh",
                  "resolution": "PT15M"}  # fmt: skip
        response = self.h.client.get(f"/api/v3_0/sensors/{self.soc}/data", params=params, headers=self.h.headers())
        assert response.status_code == 200, response.text
        return response.json()["values"]

    def latest(self, **params):
        url = f"/api/v3_0/sensors/{self.power}/schedules/latest"
        return self.h.client.get(url, params={"unit": "kW", **params}, headers=self.h.headers())


@pytest.fixture
def world(tmp_path):
    harness = SchedulingHarness(tmp_path)
    try:
        yield SocWorld(harness)
    finally:
        harness.close()


def test_a_soc_reading_plans_the_device_from_the_measured_state(world: SocWorld) -> None:
    world.post_soc(30.0)

    (schedule,) = world.schedules()
    assert schedule["status"] == "FINISHED", schedule
    assert any("30 kWh measured on sensor" in note for note in schedule["notes"])
    device = world.h.read(sa.select(sq.schedule_devices).where(sq.schedule_devices.c.schedule_id == schedule["id"]))
    assert device[0]["soc_kwh"][0] == pytest.approx(30.0)
    assert min(device[0]["soc_kwh"]) >= -1e-6 and max(device[0]["soc_kwh"]) <= 100 + 1e-6

    latest = world.latest(duration="PT2H")
    assert latest.status_code == 200, latest.text
    body = latest.json()
    assert body["schedule"] == schedule["id"]
    assert len(body["values"]) == 8 and all(abs(v) <= 20 + 1e-6 for v in body["values"])
    job = world.h.client.get(f"/api/v3_0/jobs/{schedule['id']}", headers=world.h.headers())
    assert job.status_code == 200 and job.json()["status"] == "FINISHED"

    planned = world.planned_soc(duration="PT2H")  # FlexMeasures' state-of-charge: the plan goes there too
    assert planned[0] == pytest.approx(30.0)
    assert planned == pytest.approx(device[0]["soc_kwh"][:8])


def test_a_reading_after_a_udi_event_keeps_its_targets(world: SocWorld) -> None:
    start = this_quarter()
    target_at = start + timedelta(hours=4)
    message = world.h.udi_message(
        event_id=1, value=10, datetime=(start - QUARTER).isoformat(),
        targets=[{"value": 80, "datetime": target_at.isoformat()}],
    )  # fmt: skip
    assert world.h.post_udi(message).status_code == 200
    world.post_soc(35.0, start)  # the car charged faster than planned

    (schedule,) = world.schedules()
    assert any("targets of UDI event 1" in note for note in schedule["notes"])
    device = world.h.read(sa.select(sq.schedule_devices).where(sq.schedule_devices.c.schedule_id == schedule["id"]))
    soc = device[0]["soc_kwh"]
    assert soc[0] == pytest.approx(35.0)
    steps_to_target = int((target_at - start) / QUARTER)
    assert soc[steps_to_target] == pytest.approx(80.0, abs=1e-6)
    assert schedule["result"]["unresolved"] == []
    assert device[0]["superseded_by"] is None  # the reading's schedule supersedes the UDI event's


def test_an_instantaneous_soc_sensor_triggers_and_receives_the_plan(world: SocWorld) -> None:
    world.soc = world._create_soc_sensor(resolution="PT0H")  # FlexMeasures' SoC sensors are instantaneous
    world.link()
    world.post_soc(42.0)
    (schedule,) = world.schedules()
    assert schedule["status"] == "FINISHED", schedule
    assert world.planned_soc(duration="PT1H")[0] == pytest.approx(42.0)


@pytest.mark.parametrize(
    "fields",
    [
        {"start": "stale"},
        {"prior": "before"},  # a forecast of the state of charge
    ],
    ids=["stale", "forecast"],
)
def test_readings_that_are_no_fresh_measurement_plan_nothing(world: SocWorld, fields) -> None:
    now = this_quarter()
    if fields.get("start") == "stale":
        world.post_soc(30.0, now - SOC_READING_MAX_AGE - timedelta(hours=1))
    else:
        world.post_soc(30.0, now + timedelta(hours=2), prior=now.isoformat())
    assert world.schedules() == []
    assert world.latest().status_code == 404


def test_a_reading_in_percent_needs_the_capacity_or_fails_with_the_reason(world: SocWorld) -> None:
    world.soc = world._create_soc_sensor("%")
    world.link()
    world.post_soc(50.0, unit="%")
    (ok,) = world.schedules()
    device = world.h.read(sa.select(sq.schedule_devices).where(sq.schedule_devices.c.schedule_id == ok["id"]))
    assert device[0]["soc_kwh"][0] == pytest.approx(50.0)  # 50 % of soc-max 100 kWh

    world.link(**{"soc-max": None})
    world.post_soc(50.0, unit="%")
    failed = world.schedules()[-1]
    assert (failed["status"], failed["code"], failed["field"]) == ("FAILED", "INVALID_UNIT", "state-of-charge")
    assert "capacity" in failed["reason"]


def test_replaying_decides_as_before_and_appends_nothing(world: SocWorld) -> None:
    world.link(**{"state-of-charge": None})
    world.post_soc(20.0)  # not a state-of-charge sensor at this point in history
    world.link()
    world.post_soc(25.0)
    assert len(world.schedules()) == 1

    head = world.h.head
    world.h.platform.stop()  # the live scheduler shares the checkpoint the replay resets
    replay = SchedulerProcessor(
        world.h.platform.store, world.h.platform.read_models.write_engine, checkpoints=world.h.platform.checkpoints
    )
    replay.reset()
    replay.process("*", world.h.platform.store.read_all(0, limit=100_000))
    assert world.h.head == head
    assert (replay.stats.solved, replay.stats.failed) == (0, 0)
    assert replay.stats.skipped == len(world.h.read(sa.select(sq.schedules)))  # every trigger, nothing more


@pytest.mark.parametrize(
    ("reference", "code"),
    [("8", "INVALID_FLEX_MODEL"), ({"sensor": 99_999}, "UNRECOGNIZED_SENSOR"), ("power", "INVALID_UNIT")],
)
def test_a_bad_state_of_charge_sensor_is_refused_on_write_naming_the_field(world: SocWorld, reference, code) -> None:
    if reference == "power":
        reference = {"sensor": world.power}  # a sensor in kW is no state of charge
    before = world.h.head
    url = f"/api/v3_0/assets/{world.h.world.assets['battery']}"
    response = world.h.client.patch(
        url, json={"flex_model": {"sensor": world.power, "state-of-charge": reference}}, headers=world.h.headers()
    )
    assert response.status_code == 422, response.text
    assert response.json()["status"] == code
    assert response.json()["field"] == "flex_model.state-of-charge"
    assert world.h.head == before  # nothing appended
