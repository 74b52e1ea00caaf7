"""Processors pass over the events they ignore (``passes_over``), and store followers do not hand
those over (:mod:`streams.follower`): the same results, checkpoints moved lazily to the head,
nothing handed again after a restart."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from test_follower import Clock, Recorder
from test_forecast_processor import ON, T0, Rig, _by_id, _replayed_elsewhere, load

from domain.events import EventMetadata, NewEvent, RecordedEvent
from infra.checkpoints import SqlCheckpointStore
from infra.eventstore.memory import MemoryEventStore
from infra.traced import TracedProcessor
from projections.charge_sessions import ChargeSessionsProjection
from projections.myems_virtual_meters import MyEmsVirtualMetersProjection
from projections.readings import ReadingsProjection
from projections.regional_energies import RegionalEnergiesProjection
from streams.event_feed import EventFeed
from streams.follower import StoreFollower
from streams.projection_processor import ProjectionProcessor
from streams.scheduler import SchedulerProcessor


class SkipsPrognoses(Recorder):
    """A processor of readings that ignores the events marked ``prognosis`` in their data."""

    def passes_over(self, recorded: RecordedEvent) -> bool:
        return bool(recorded.data.get("prognosis"))


def readings_and_prognoses(pattern: str) -> MemoryEventStore:
    """One reading event per character of ``pattern``: ``m`` measured, ``p`` a prognosis."""
    store = MemoryEventStore()
    for kind in pattern:
        store.append("sensordata-1", [NewEvent(type="SensorDataRecorded", data={"prognosis": kind == "p"})])
    return store


def test_a_follower_hands_over_only_what_its_processor_does_not_pass_over() -> None:
    store = readings_and_prognoses("mpmpp")
    clock, processor, other = Clock(), SkipsPrognoses(), Recorder()
    feed, stop = EventFeed(store), threading.Event()
    follower = StoreFollower(processor, feed, idle_save_s=1.0, monotonic=clock)
    everything = StoreFollower(other, feed, monotonic=clock)
    assert follower.step(stop) == 5 and everything.step(stop) == 5
    assert processor.handed == [1, 3] and follower.applied == 2 and follower.position == 5
    assert other.handed == [1, 2, 3, 4, 5], "another processor still gets them all"
    assert processor.checkpoint() == 3 and processor.advanced == [], "moved over lazily, as over others' events"
    store.append("sensordata-1", [NewEvent(type="SensorDataRecorded", data={"prognosis": True})])
    assert follower.step(stop) == 1 and processor.handed == [1, 3], "a batch of nothing to hand over: no process()"
    clock.now_s += 1.0
    assert follower.step(stop) == 0 and processor.advanced == [6] and processor.checkpoint() == 6


def test_a_restart_before_the_lazy_save_passes_over_the_same_events_and_hands_nothing_again() -> None:
    store = readings_and_prognoses("mpmpp")
    processor, stop = SkipsPrognoses(), threading.Event()
    StoreFollower(processor, EventFeed(store), monotonic=Clock()).step(stop)
    assert processor.checkpoint() == 3  # "crashed" before moving over 4 and 5
    store.append("sensordata-1", [NewEvent(type="SensorDataRecorded", data={"prognosis": False})])
    restarted = StoreFollower(processor, EventFeed(store), monotonic=Clock())
    assert restarted.position == 3 and restarted.step(stop) == 3
    assert processor.handed == [1, 3, 6] and restarted.applied == 1, "nothing handed twice, nothing skipped"


# -- the processors' predicates --------------------------------------------------------------


def stored(event_type: str, **data) -> RecordedEvent:
    return RecordedEvent(
        event_id=uuid.uuid4(), stream_id="sensordata-1", stream_revision=0, global_position=1,
        type=event_type, schema_version=1, data={"sensor_id": 1, **data}, metadata=EventMetadata(),
    )  # fmt: skip


EVENTS = {
    "measured": stored("SensorDataRecorded", source_type="user"),
    "forecast": stored("SensorDataRecorded", source_type="forecaster"),
    "schedule": stored("SensorDataRecorded", source_type="scheduler"),
    "sensor registered": stored("SensorRegistered"),
    "EVSE registered": stored("EvseRegistered"),
}


def traced_projection(projection) -> TracedProcessor:
    """A projection as the composition root hands it to the runners (adapter in its telemetry wrapper)."""
    engine = sa.create_engine("sqlite://")
    processor = ProjectionProcessor(projection, engine, ["flexledger.readings"], checkpoints=SqlCheckpointStore(engine))
    return TracedProcessor(processor, projection=projection.name)


@pytest.mark.parametrize(
    ("projection", "passed_over"),
    [
        (ChargeSessionsProjection(), {"forecast", "schedule", "sensor registered"}),
        (MyEmsVirtualMetersProjection(), {"forecast", "schedule", "sensor registered", "EVSE registered"}),
        (RegionalEnergiesProjection(), {"schedule", "sensor registered"}),  # forecasts: forecasted_kwh
        (ReadingsProjection(), {"sensor registered", "EVSE registered"}),  # no passes_over: its types only
    ],
    ids=lambda value: getattr(value, "name", ""),
)
def test_projections_pass_over_other_types_and_what_they_would_not_decode(projection, passed_over) -> None:
    processor = traced_projection(projection)
    assert {name for name, event in EVENTS.items() if processor.passes_over(event)} == passed_over


def test_the_scheduler_passes_over_what_can_trigger_nothing(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'readmodels.db'}")
    scheduler = SchedulerProcessor(MemoryEventStore(), engine, checkpoints=SqlCheckpointStore(engine))
    events = {**EVENTS, **{t: stored(t) for t in ("ScheduleTriggered", "UdiEventPosted", "ScheduleComputed")}}
    passed_over = {name for name, event in events.items() if scheduler.passes_over(event)}
    assert passed_over == {"forecast", "schedule", "sensor registered", "EVSE registered", "ScheduleComputed"}


# -- the forecaster, followed ------------------------------------------------------------------


def test_the_followed_forecaster_gets_no_own_output_back_and_appends_the_same(tmp_path: Path) -> None:
    rig = Rig(tmp_path / "a", ON)
    try:
        rig.post(T0, load(96 * 2))
        clock, stop = Clock(), threading.Event()
        follower = StoreFollower(rig.processor, EventFeed(rig.store), idle_save_s=1.0, monotonic=clock)
        while follower.step(stop):  # its appends are read back too, until the head
            pass
        produced = rig.produced()
        assert len(produced) == 2 * 8 and all(rig.processor.passes_over(e) for e in produced)
        assert follower.applied == 1 and rig.processor.stats.learned == 192, "only the readings event handed over"
        assert _by_id(produced) == _by_id(_replayed_elsewhere(rig, tmp_path / "b")), "as when handed everything"
        head = rig.store.head_position()
        assert rig.processor.checkpoint() < head
        clock.now_s += 1.0
        assert follower.step(stop) == 0 and rig.processor.checkpoint() == head, "idle: moved to the head"
        restarted = StoreFollower(rig.new_processor(), EventFeed(rig.store), monotonic=Clock())
        assert restarted.position == head and restarted.step(stop) == 0 and restarted.applied == 0
    finally:
        rig.close()
