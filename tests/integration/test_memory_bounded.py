"""Memory of the embedded platform does not grow with history (issue #18 §2).

The embedded processors follow the event store through one shared window of recent events
(:class:`streams.follower.EventFeed`); nothing else may keep the events it was handed. The
test stores five times the window's readings in two halves, with every processor running,
and counts the readings still referenced by live event objects (not bytes, not seconds):
bounded by the window after each half, though the history doubled in between.

The window trims itself to half its bounds once it is over them, so the readings it holds at a
given moment lie anywhere between about half the bound and the bound, depending on where the
last trim fell (which depends on how the appends were grouped into reads). The two counts are
therefore each compared with the bound, not with each other: a leak that keeps more than a
fifth of the 100,000 readings stored fails it wherever the window stands (every event kept:
100,000 readings).
"""

from __future__ import annotations

import gc
from datetime import UTC, datetime, timedelta

from commands import registry as cmd
from commands.readings import RecordSensorData, record_sensor_data
from domain.beliefs import SensorDataRecorded
from domain.events import RecordedEvent
from infra.bootstrap import build_platform
from infra.settings import Settings

WINDOW_VALUES = 20_000
VALUES_PER_EVENT = 1_000
EVENTS_PER_HALF = 50  # 50,000 readings per half: 2.5 windows
START = datetime(2024, 1, 1, tzinfo=UTC)


def live_readings() -> int:
    """Readings referenced by live stored or decoded sensor-data events in this process."""
    gc.collect()
    total = 0
    for obj in gc.get_objects():
        if isinstance(obj, RecordedEvent) and obj.type == "SensorDataRecorded":
            total += len(obj.data.get("values") or ())
        elif isinstance(obj, SensorDataRecorded):
            total += len(obj.values)
    return total


def store_half(platform, sensors: list[int], half: int) -> int:
    """Append one half of the history (days after the previous half's); returns the last position."""
    ctx, position = platform.commands, 0
    for i in range(EVENTS_PER_HALF):
        sensor = sensors[i % len(sensors)]
        slot = (half * EVENTS_PER_HALF + i) // len(sensors) * VALUES_PER_EVENT
        position = record_sensor_data(
            ctx,
            RecordSensorData(
                sensor_id=sensor,
                start=START + timedelta(minutes=15 * slot),
                duration=timedelta(minutes=15 * VALUES_PER_EVENT),
                values=[float((slot + k) % 97) for k in range(VALUES_PER_EVENT)],
                unit="kW",
                source="meter",
            ),
            cmd.load_sensor(ctx, sensor),
        ).global_position
    return position


def test_memory_of_the_running_platform_does_not_grow_with_history(tmp_path) -> None:
    platform = build_platform(Settings(home=tmp_path, bcrypt_rounds=4, feed_window_values=WINDOW_VALUES))
    try:
        ctx = platform.commands
        account = cmd.register_account(ctx, cmd.RegisterAccount(name="memory"))
        asset = cmd.register_asset(ctx, cmd.RegisterAsset(account_id=account, name="site", asset_type="building"))
        sensors = [
            cmd.register_sensor(
                ctx, cmd.RegisterSensor(asset_id=asset, name=f"p{s}", unit="kW", event_resolution_s=900)
            )
            for s in range(2)
        ]
        platform.start()
        counts = []
        for half in range(2):
            position = store_half(platform, sensors, half)
            assert platform.wait_for(position, timeout_s=120), "processors did not catch up"
            counts.append(live_readings())
        stored = 2 * EVENTS_PER_HALF * VALUES_PER_EVENT
        bound = WINDOW_VALUES + WINDOW_VALUES // 4 + 2 * VALUES_PER_EVENT  # window, one read, one in hand
        assert bound < stored // 2
        for count in counts:
            assert count <= bound, f"{counts} readings held in memory after storing {stored} (bound {bound})"
    finally:
        platform.close()
