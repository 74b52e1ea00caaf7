"""Bulk import of readings (sorted ``(start, value)`` rows) into one sensor, idempotently.

Rows are grouped into runs of consecutive events at the sensor's resolution and appended as
``SensorDataRecorded`` events of up to ``MAX_VALUES_PER_EVENT`` values. Each event id derives from
a digest naming the data (e.g. a file's SHA-256) and the run's position, so importing the same
data again stores nothing twice: :class:`ImportResult` says how many readings were new and how
many were already stored by an earlier import of the same data.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from commands.context import CommandContext, CommandError
from commands.readings import MAX_VALUES_PER_EVENT, RecordSensorData, record_sensor_data
from commands.registry import load_sensor

IMPORT_NAMESPACE = uuid.UUID("6f1d3a52-1c8e-4b0e-9a57-2f1de0c0a001")


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
    run_start, values, expected = None, [], None
    for moment, value in rows:
        if run_start is None or moment != expected or len(values) >= max_len:
            if values:
                yield Run(run_start, values)
            run_start, values = moment, []
        values.append(value)
        expected = moment + resolution
    if values:
        yield Run(run_start, values)


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
    ``None``: the arrival time. Values are in ``unit`` (default: the sensor's).
    """
    sensor = load_sensor(ctx, sensor_id)
    if sensor is None:
        raise CommandError("UNRECOGNIZED_SENSOR", f"no sensor {sensor_id}", "sensor")
    rows = [(moment + shift, value) for moment, value in rows]
    identity = digest if not shift else f"{digest}:shift={int(shift.total_seconds())}"
    done = new = 0
    for index, run in enumerate(consecutive_runs(rows, sensor.event_resolution, MAX_VALUES_PER_EVENT)):
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
        if record_sensor_data(ctx, command, sensor).appended:
            new += len(run.values)
        done += len(run.values)
        if on_progress:
            on_progress(done, len(rows))
    return ImportResult(read=len(rows), new=new, already_stored=len(rows) - new)
