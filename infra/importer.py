"""Import of readings from a CSV file (format: :mod:`domain.readings_csv`) into the event store.

Reads and parses the file, then hands the rows to :func:`commands.import_readings.import_rows`
(idempotent: the file's SHA-256 is part of every event id, so importing it again stores nothing).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from commands.context import CommandContext
from commands.import_readings import ImportResult, import_rows
from domain.readings_csv import parse_readings_csv
from projections.replay import paused_gc


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
    timezone: str | None = None,
) -> ImportResult:
    """Import a CSV file into a sensor (timestamps moved by ``shift``; ``timezone`` for naive ones only).

    A bulk job: Python's cyclic collector pauses meanwhile (:func:`projections.replay.paused_gc`)."""
    with paused_gc():
        rows = parse_readings_csv(path.read_text(encoding="utf-8-sig"), timezone)
        return import_rows(ctx, sensor_id, rows, file_digest(path), unit, source, on_progress, shift)
