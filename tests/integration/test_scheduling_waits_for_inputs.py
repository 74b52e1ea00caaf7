"""The scheduler waits until its input read models hold every event before the trigger.

Embedded processors follow the event store independently, so under load the readings
projection can lag behind the scheduler. Prices recorded just before a trigger must still be
seen: the scheduler asks its consistency waiter for the trigger's position minus one on the
read models it reads (:data:`streams.scheduler.INPUT_READ_MODELS`).

Scenario (embedded SQLite, the scheduling harness's world): the runner is stopped, so nothing
projects; prices for a new day are recorded, then a schedule is triggered for that day. A
scheduler whose waiter applies the readings projection only when asked (a lagging projection
made deterministic) must solve the trigger with those prices. Without the wait the read model
holds no price for that day and the schedule fails (the CI flake this test pins down).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from scheduling_support import SchedulingHarness

from commands.readings import RecordSensorData, record_sensor_data
from commands.scheduling import TriggerSchedule, trigger_schedule
from projections.base import ALL_PARTITIONS
from streams.scheduler import READINGS_PROJECTION, SchedulerProcessor

NEW_DAY = datetime(2015, 7, 1, tzinfo=UTC)


class LaggingProjectionWaiter:
    """A consistency waiter over a projection that applies events only when someone waits for them."""

    def __init__(self, store, projection):
        self.store, self.projection = store, projection
        self.waits: list[tuple[int, tuple[str, ...]]] = []

    def follows(self, processors: Sequence[str]) -> bool:
        return list(processors) == [self.projection.name]

    def wait_for(self, position, processors=None, timeout_s=None, stream_id=None) -> bool:
        self.waits.append((position, tuple(processors or ())))
        done = self.projection.checkpoint()
        while done < position and (batch := self.store.read_all(done, min(500, position - done))):
            self.projection.process(ALL_PARTITIONS, batch)
            done = batch[-1].global_position
        return done >= position


def test_prices_recorded_just_before_a_trigger_are_waited_for(tmp_path) -> None:
    h = SchedulingHarness(tmp_path)
    try:
        h.platform.stop()  # from here on nothing projects unless the waiter applies it
        stopped_at = h.head
        ctx = h.platform.commands
        prices = h.world.sensors["market/prices"]
        record_sensor_data(
            ctx,
            RecordSensorData(
                sensor_id=prices, start=NEW_DAY, duration=timedelta(days=2), values=[50.0] * 48,
                unit="EUR/MWh", source="market operator",
            ),
        )  # fmt: skip
        trigger = TriggerSchedule(
            asset_id=h.world.assets["site"], start=NEW_DAY + timedelta(hours=10), duration=timedelta(hours=6),
            resolution=timedelta(minutes=15),
            flex_model=[{
                "sensor": h.world.sensors["battery/power"], "soc-at-start": "10 kWh", "soc-max": "100 kWh",
                "soc-min": "0 kWh", "power-capacity": "20 kW",
            }],
            flex_context={"consumption-price": {"sensor": prices}, "site-power-capacity": "25 kW"},
        )  # fmt: skip
        trigger_schedule(ctx, trigger)

        readings = next(p for p in h.platform.processors if p.name == READINGS_PROJECTION)
        waiter = LaggingProjectionWaiter(h.platform.store, readings)
        scheduler = SchedulerProcessor(
            h.platform.store, h.platform.read_models.write_engine, h.platform.read_models.read_engine,
            consistency=waiter, checkpoints=h.platform.checkpoints,
        )  # fmt: skip
        events = h.platform.store.read_all(stopped_at, 10_000)
        scheduler.process(ALL_PARTITIONS, events)

        assert scheduler.stats.failed == 0 and scheduler.stats.solved == 1, scheduler.stats
        trigger_position = next(e.global_position for e in events if e.type == "ScheduleTriggered")
        assert (trigger_position - 1, (READINGS_PROJECTION,)) in waiter.waits
    finally:
        h.close()
