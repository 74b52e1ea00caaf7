"""Time travel: the state of assets, sensors and a device's schedule as of a past position or time.

"As of" means: only events at or before global position ``position`` *and* recorded at or
before ``time`` count (either may be left out). States are folded from the event store (the
system of record) with the same ``evolve`` the registry uses, so the answer is what the
platform knew then — e.g. the flex-model in force when a schedule was made (ask as of that
schedule's event position). Work is bounded: an entity's stream is read in full (they are
short); the schedule search scans at most ``max_scanned`` schedule events and says when it
stopped early.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import reduce

from domain.events import RecordedEvent
from domain.ports.event_store import EventStore
from domain.registry import AssetRegistered, SensorRegistered, evolve
from domain.schedules import ScheduleComputed

MAX_SCHEDULES_SCANNED = 50_000


@dataclass(frozen=True)
class AsOf:
    position: int | None = None
    time: datetime | None = None

    def includes(self, event: RecordedEvent) -> bool:
        if self.position is not None and event.global_position > self.position:
            return False
        return self.time is None or event.metadata.recorded_at <= self.time


@dataclass
class EntityAsOf:
    """``state``: the asset or sensor as then (``None``: not registered yet, or deleted);
    ``last_event``: the latest of its events that counted; ``exists``: it was ever registered."""

    state: AssetRegistered | SensorRegistered | None
    last_event: RecordedEvent | None
    exists: bool


def entity_as_of(store: EventStore, stream_id: str, at: AsOf) -> EntityAsOf:
    """The state of the entity of ``stream_id`` (``asset-<id>``, ``sensor-<id>``) as of ``at``."""
    events = store.read_stream(stream_id)
    counted = [e for e in events if at.includes(e)]
    state = reduce(evolve, (e.decode() for e in counted), None)
    return EntityAsOf(state, counted[-1] if counted else None, bool(events))


@dataclass
class ScheduleAsOf:
    """The device's current schedule event then (``None``: none yet); ``complete``: the search
    covered every schedule up to ``at`` (False: it stopped after ``max_scanned``)."""

    schedule: RecordedEvent | None
    complete: bool


def schedule_as_of(
    store: EventStore, sensor_id: int, at: AsOf, max_scanned: int = MAX_SCHEDULES_SCANNED
) -> ScheduleAsOf:
    """The newest ``ScheduleComputed`` (by position) covering power sensor ``sensor_id`` as of ``at``.

    A newer schedule of a device supersedes an older one (as in the schedules read model).
    """
    found, cursor, scanned = None, 0, 0
    types = [ScheduleComputed.event_type]
    while scanned < max_scanned:
        batch = store.read_all(cursor, min(1000, max_scanned - scanned), types=types)
        if not batch:
            return ScheduleAsOf(found, True)
        for event in batch:
            cursor, scanned = event.global_position, scanned + 1
            if at.position is not None and event.global_position > at.position:
                return ScheduleAsOf(found, True)
            if at.includes(event) and any(d.get("sensor_id") == sensor_id for d in event.data.get("devices", [])):
                found = event
    return ScheduleAsOf(found, False)
