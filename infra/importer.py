"""Bulk import of readings from CSV (``datetime,value`` rows) into the event store.

Rows are grouped into runs of consecutive events at the sensor's resolution and appended as
``SensorDataRecorded`` events of up to 10,000 values. Each event id is derived from the file's
content hash and the run's position, so importing the same file again (for example after a
crash) stores nothing twice.
"""

from __future__ import annotations

import csv
import hashlib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from commands.context import CommandContext, CommandError
from commands.readings import MAX_VALUES_PER_EVENT, RecordSensorData, record_sensor_data
from commands.registry import load_sensor

IMPORT_NAMESPACE = uuid.UUID("6f1d3a52-1c8e-4b0e-9a57-2f1de0c0a001")


@dataclass(frozen=True)
class Run:
    start: datetime
    values: list[float]


def read_csv(path: Path) -> list[tuple[datetime, float]]:
    """(timezone-aware start, value) rows; the header row is skipped; naive datetimes are refused."""
    rows = []
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        next(reader, None)
        for line_no, row in enumerate(reader, start=2):
            if not row or not row[0].strip():
                continue
            moment = datetime.fromisoformat(row[0].strip())
            if moment.tzinfo is None:
                raise CommandError("INVALID_TIMEZONE", f"{path}:{line_no}: datetime has no offset", "datetime")
            rows.append((moment, float(row[1])))
    rows.sort(key=lambda r: r[0])
    return rows


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


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes (hex): part of every imported event's id."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def import_readings(
    ctx: CommandContext,
    sensor_id: int,
    path: Path,
    unit: str | None = None,
    source: str = "import",
    on_progress: Callable[[int, int], None] | None = None,
    shift: timedelta = timedelta(0),
) -> int:
    """Import a CSV file into a sensor, every timestamp moved by ``shift``; returns the number of values read."""
    return import_rows(ctx, sensor_id, read_csv(path), file_digest(path), unit, source, on_progress, shift)


def import_rows(
    ctx: CommandContext,
    sensor_id: int,
    rows: list[tuple[datetime, float]],
    digest: str,
    unit: str | None = None,
    source: str = "import",
    on_progress: Callable[[int, int], None] | None = None,
    shift: timedelta = timedelta(0),
) -> int:
    """Import sorted (start, value) rows, moved by ``shift``; ``digest`` names the data (idempotent ids)."""
    sensor = load_sensor(ctx, sensor_id)
    if sensor is None:
        raise CommandError("UNRECOGNIZED_SENSOR", f"no sensor {sensor_id}", "sensor", 404)
    rows = [(moment + shift, value) for moment, value in rows]
    identity = digest if not shift else f"{digest}:shift={int(shift.total_seconds())}"
    done = 0
    for index, run in enumerate(consecutive_runs(rows, sensor.event_resolution, MAX_VALUES_PER_EVENT)):
        command = RecordSensorData(
            sensor_id=sensor_id,
            start=run.start,
            duration=sensor.event_resolution * len(run.values),
            values=run.values,
            unit=unit or sensor.unit,
            source=source,
            source_type="import",
            event_id=uuid.uuid5(IMPORT_NAMESPACE, f"{identity}:{sensor_id}:{index}"),
        )
        record_sensor_data(ctx, command, sensor)
        done += len(run.values)
        if on_progress:
            on_progress(done, len(rows))
    return len(rows)
