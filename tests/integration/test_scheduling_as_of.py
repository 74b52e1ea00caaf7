"""The scheduler sees one world as of its trigger: a replay after an asset changed decides the same.

Scenario (embedded SQLite): a UDI event for the battery (its stored flex-model: 20 kW), then the
battery's flex-model is changed through the API (5 kW power capacity, a different soc-max).
A fresh scheduler replays the store from position 0 with ``recompute_existing``: every
schedule it computes again equals the stored one, because the devices' flex-models, sensors and
the site's other devices are read as of the trigger's position, not from the registry read
model (which now holds the changed flex-model). A trigger posted *after* the change does see it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from scheduling_support import SchedulingHarness

from domain.ports.event_store import ANY
from projections.base import ALL_PARTITIONS
from streams.scheduler import SchedulerProcessor


class RecordingStore:
    """The real event store, remembering every event handed to ``append``."""

    def __init__(self, store):
        self.store, self.appended = store, []

    def append(self, stream_id: str, events, expected_revision=ANY):
        self.appended.extend(events)
        return self.store.append(stream_id, events, expected_revision)

    def __getattr__(self, name: str):
        return getattr(self.store, name)


@pytest.fixture
def harness(tmp_path) -> Iterator[SchedulingHarness]:
    h = SchedulingHarness(tmp_path)
    try:
        yield h
    finally:
        h.close()


def computed(events) -> dict[str, dict]:
    return {str(e.data["schedule_id"]): e.data for e in events if e.type == "ScheduleComputed"}


def test_a_replay_after_a_flex_model_change_yields_the_same_schedules(harness: SchedulingHarness) -> None:
    h = harness
    assert h.post_udi(h.udi_message(event_id=1)).status_code == 200
    h.settle()
    h.wait_projected()
    original = computed(r for r in h.platform.store.read_all(0, 10_000) if r.type == "ScheduleComputed")
    assert len(original) == 1
    peak_kw = max(max(abs(v) for v in d["power_kw"]) for d in next(iter(original.values()))["devices"])
    assert peak_kw > 5.0 + 1e-6, "the scenario must use more than the changed capacity, or it proves nothing"

    battery = h.world.assets["battery"]
    changed = {"flex_model": {"soc-max": "80 kWh", "soc-min": "0 kWh", "power-capacity": "5 kW"}}
    response = h.client.patch(f"/api/v3_0/assets/{battery}", json=changed, headers=h.headers())
    assert response.status_code == 200, response.text
    h.settle()
    h.wait_projected()
    h.platform.stop()  # nothing else writes from here on
    head = h.head

    store = RecordingStore(h.platform.store)
    replay = SchedulerProcessor(
        store, h.platform.read_models.write_engine, h.platform.read_models.read_engine, recompute_existing=True,
        checkpoints=h.platform.checkpoints,
    )
    replay.reset()
    position = 0
    while batch := h.platform.store.read_all(position, 500):
        replay.process(ALL_PARTITIONS, batch)
        position = batch[-1].global_position
    assert replay.stats.solved == 1 and replay.stats.failed == 0
    assert computed(store.appended) == original  # the same values, costs, notes and unmet constraints
    assert h.head == head  # every id was already stored


def test_a_trigger_after_the_change_sees_the_new_flex_model(harness: SchedulingHarness) -> None:
    h = harness
    battery = h.world.assets["battery"]
    changed = {"flex_model": {"soc-max": "100 kWh", "soc-min": "0 kWh", "power-capacity": "5 kW"}}
    assert h.client.patch(f"/api/v3_0/assets/{battery}", json=changed, headers=h.headers()).status_code == 200
    assert h.post_udi(h.udi_message(event_id=1)).status_code == 200
    h.settle()
    h.wait_projected()
    schedules = computed(r for r in h.platform.store.read_all(0, 10_000) if r.type == "ScheduleComputed")
    assert len(schedules) == 1
    devices = next(iter(schedules.values()))["devices"]
    assert max(max(abs(v) for v in d["power_kw"]) for d in devices) <= 5.0 + 1e-6
