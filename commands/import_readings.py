"""Bulk import of readings (sorted ``(start, value)`` rows) into one sensor, idempotently.

Rows are grouped into runs of consecutive events at the sensor's resolution and appended as
``SensorDataRecorded`` events of up to ``MAX_VALUES_PER_EVENT`` values. Each event id derives from
a digest naming the data (e.g. a file's SHA-256) and the run's position, so importing the same
data again stores nothing twice: :class:`ImportResult` says how many readings were new and how
many were already stored by an earlier import of the same data.
"""

from __future__ import annotations

import operator
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from operator import itemgetter

from commands.context import CommandContext, CommandError
from commands.readings import MAX_VALUES_PER_EVENT, RecordSensorData, sensor_data_events, sensor_data_stream
from commands.registry import load_sensor
from domain.events import NewEvent
from domain.ports.event_store import ANY, AppendResult

IMPORT_NAMESPACE = uuid.UUID("6f1d3a52-1c8e-4b0e-9a57-2f1de0c0a001")
RUNS_PER_APPEND = 10
"""Runs appended in one transaction: up to 100,000 readings per fsync."""


@dataclass(frozen=True)
class Run:
    start: datetime
    values: list[float]


@dataclass(frozen=True)
class ImportResult:
    read: int
    """Readings in the data."""
    new: int
    """Readings stored by this import."""
    already_stored: int
    """Readings an earlier import of the same data had stored (nothing appended for them)."""


def consecutive_runs(rows: list[tuple[datetime, float]], resolution: timedelta, max_len: int) -> Iterator[Run]:
    """Split sorted rows into runs of consecutive events (no gaps), at most ``max_len`` long."""
    if not rows:
        return
    moments = list(map(itemgetter(0), rows))
    values = list(map(itemgetter(1), rows))
    steps = list(map(operator.sub, moments[1:], moments))  # in C: no Python loop per row
    breaks = [] if steps.count(resolution) == len(steps) else [i + 1 for i, s in enumerate(steps) if s != resolution]
    for low, high in zip([0, *breaks], [*breaks, len(rows)], strict=True):
        for offset in range(low, high, max_len):
            yield Run(moments[offset], values[offset : min(offset + max_len, high)])


def import_rows(
    ctx: CommandContext,
    sensor_id: int,
    rows: list[tuple[datetime, float]],
    digest: str,
    unit: str | None = None,
    source: str = "import",
    on_progress: Callable[[int, int], None] | None = None,
    shift: timedelta = timedelta(0),
    horizon: timedelta | None = None,
) -> ImportResult:
    """Import sorted (start, value) rows, every start moved by ``shift``; ``digest`` names the data.

    ``horizon`` (e.g. ``timedelta(0)``: measured at the event's end) sets the belief time;
    ``None``: the arrival time. Values are in ``unit`` (default: the sensor's). Runs are appended
    ``RUNS_PER_APPEND`` at a time (one transaction and one fsync each).
    """
    sensor = load_sensor(ctx, sensor_id)
    if sensor is None:
        raise CommandError("UNRECOGNIZED_SENSOR", f"no sensor {sensor_id}", "sensor")
    if shift:
        rows = [(moment + shift, value) for moment, value in rows]
    identity = digest if not shift else f"{digest}:shift={int(shift.total_seconds())}"
    runs = enumerate(consecutive_runs(rows, sensor.event_resolution, MAX_VALUES_PER_EVENT))
    done = new = 0
    while group := list(islice(runs, RUNS_PER_APPEND)):
        events = []
        for index, run in group:
            command = RecordSensorData(
                sensor_id=sensor_id,
                start=run.start,
                duration=sensor.event_resolution * len(run.values),
                values=run.values,
                unit=unit or sensor.unit,
                source=source,
                source_type="import",
                horizon=horizon,
                event_id=uuid.uuid5(IMPORT_NAMESPACE, f"{identity}:{sensor_id}:{index}"),
            )
            events += sensor_data_events(ctx, command, sensor)
        new += _new_readings(ctx, events, ctx.store.append(sensor_data_stream(sensor_id), events, ANY))
        done += sum(len(run.values) for _, run in group)
        if on_progress:
            on_progress(done, len(rows))
    return ImportResult(read=len(rows), new=new, already_stored=len(rows) - new)


def _new_readings(ctx: CommandContext, events: list[NewEvent], result: AppendResult) -> int:
    """Readings of the events this append stored (the others were stored by an earlier import)."""
    if result.appended == len(events):
        return sum(len(e.data["values"]) for e in events)
    if result.appended == 0:
        return 0
    first_new = result.global_position - result.appended + 1  # the new ones took the last positions
    stored = [ctx.store.get_event(e.event_id) for e in events]
    return sum(len(e.data["values"]) for e, s in zip(events, stored, strict=True) if s.global_position >= first_new)
