"""Rebuilding from history reproduces the schedules without appending anything.

Scenario: UDI events (one superseding another, one unreachable target), a v3 trigger and a
trigger that fails. Then, with the runner stopped:

* the schedules and jobs projections are rebuilt from the event store: same rows;
* the scheduler processor runs again from position 0: the store's head does not move;
* and once more with ``recompute_existing``: every trigger is solved again, the outcome events
  it would append equal the stored ones, and still nothing is appended.

Runs on the embedded SQLite deployment, and on PostgreSQL when ``FLEXLEDGER_TEST_POSTGRES_URL``
is set (a fresh database per run).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from pg import SKIP_REASON, postgres_base_url, temporary_postgres_url
from scheduling_support import DAY, SchedulingHarness

from domain.events import NewEvent
from domain.ports.event_store import ANY
from projections import schedules as sq
from projections.base import ALL_PARTITIONS
from projections.jobs import JobsProjection, jobs
from projections.replay import rebuild
from projections.schedules import SchedulesProjection
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


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def harness(request, tmp_path) -> Iterator[SchedulingHarness]:
    if request.param == "sqlite":
        h = SchedulingHarness(tmp_path)
        try:
            yield h
        finally:
            h.close()
        return
    if postgres_base_url() is None:
        pytest.skip(SKIP_REASON)
    with temporary_postgres_url() as url:
        h = SchedulingHarness(tmp_path, event_store="postgres", read_models="postgres", postgres_url=url)
        try:
            yield h
        finally:
            h.close()


def run_scenario(h: SchedulingHarness) -> None:
    assert h.post_udi(h.udi_message(event_id=1)).status_code == 200
    second = h.udi_message(event_id=2, value=30, datetime=(DAY + timedelta(minutes=45)).isoformat())
    assert h.post_udi(second).status_code == 200
    unreachable = h.udi_message(asset="evse", event_id=1, targets=[{"value": 60, "datetime": "2015-06-02T11:00:00Z"}])
    assert h.post_udi(unreachable).status_code == 200
    site = h.world.assets["site"]
    trigger = {
        "start": DAY.isoformat(),
        "duration": "PT6H",
        "flex-model": [{"sensor": h.world.sensors["battery/power"], "soc-at-start": "20 kWh"}],
    }
    for start in (DAY, DAY + timedelta(days=60)):  # the second has no prices: it fails
        response = h.client.post(
            f"/api/v3_0/assets/{site}/schedules/trigger",
            json={**trigger, "start": start.isoformat()},
            headers=h.headers(),
        )
        assert response.status_code == 200, response.text
    h.settle()
    h.wait_projected()


def snapshot(h: SchedulingHarness) -> dict[str, list[dict]]:
    return {
        "schedules": h.table(sq.schedules, [sq.schedules.c.id]),
        "schedule_devices": h.table(
            sq.schedule_devices, [sq.schedule_devices.c.schedule_id, sq.schedule_devices.c.sensor_id]
        ),
        "udi_events": h.table(sq.udi_events, [sq.udi_events.c.asset_id, sq.udi_events.c.udi_event_id]),
        "jobs": h.table(jobs, [jobs.c.id]),
    }


def rerun(h: SchedulingHarness, recompute: bool) -> tuple[SchedulerProcessor, list[NewEvent]]:
    """Run a fresh scheduler from position 0 over the whole store; what it tried to append."""
    store = RecordingStore(h.platform.store)
    scheduler = SchedulerProcessor(
        store,
        h.platform.read_models.write_engine,
        h.platform.read_models.read_engine,
        recompute_existing=recompute,
        checkpoints=h.platform.checkpoints,
    )
    scheduler.reset()
    position = 0
    while batch := h.platform.store.read_all(position, 500):
        scheduler.process(ALL_PARTITIONS, batch)
        position = batch[-1].global_position
    return scheduler, store.appended


def test_rebuild_and_rerun_reproduce_the_schedule_events_without_appending(harness: SchedulingHarness) -> None:
    h = harness
    run_scenario(h)
    before = snapshot(h)
    assert {r["status"] for r in before["schedules"]} == {"FINISHED", "FAILED"}
    assert len(before["schedules"]) == 5
    h.platform.stop()  # nothing else writes from here on
    head = h.head
    engine = h.platform.read_models.write_engine

    rebuild(h.platform.store, engine, SchedulesProjection(), h.platform.checkpoints)
    rebuild(h.platform.store, engine, JobsProjection(), h.platform.checkpoints)
    assert snapshot(h) == before
    assert h.head == head

    skipping, attempted = rerun(h, recompute=False)
    assert (skipping.stats.skipped, skipping.stats.solved, attempted) == (5, 0, [])
    assert h.head == head

    recomputing, attempted = rerun(h, recompute=True)
    assert (recomputing.stats.solved, recomputing.stats.failed) == (4, 1)
    assert h.head == head  # every event id was already stored
    outcomes = [e for e in attempted if e.type in ("ScheduleComputed", "ScheduleFailed", "JobFinished", "JobFailed")]
    assert len(outcomes) == 10
    for event in outcomes:
        stored = h.platform.store.get_event(event.event_id)
        assert stored is not None and stored.type == event.type
        assert stored.data == event.data  # the same schedule, values, unmet constraints and reasons
    beliefs = [e for e in attempted if e.type == "SensorDataRecorded"]
    assert len(beliefs) == 4  # one per device of each computed schedule
    for event in beliefs:
        stored = h.platform.store.get_event(event.event_id)
        assert stored.data["values"] == event.data["values"]
    assert snapshot(h) == before


def test_checkpoint_survives_a_restart(harness: SchedulingHarness) -> None:
    h = harness
    assert h.post_udi(h.udi_message(event_id=1)).status_code == 200
    scheduler = next(p for p in h.platform.processors if p.name == "scheduler")
    h.wait_projected()
    assert scheduler.checkpoint() >= 1
    h.platform.stop()
    fresh = SchedulerProcessor(
        h.platform.store, h.platform.read_models.write_engine, checkpoints=h.platform.checkpoints
    )
    assert fresh.checkpoint() == scheduler.checkpoint()  # the runner's relay restarts from here
    with h.platform.read_models.read_engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(sq.schedules)).scalar() == 1
