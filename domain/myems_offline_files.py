"""MyEMS offline meter files (issue 14): daily energy of offline meters, uploaded as CSV or xlsx.

An offline meter is a meter (sensor, kWh, one value per local day) whose readings come from
files, not from a device. A file lives in stream ``myemsofflinefile-<id>``: uploaded (name and
content, at most :data:`MAX_FILE_BYTES`), processed (status ``done`` or ``error``, readings
stored), deleted (the readings it brought stay, as in MyEMS).

Layout (MyEMS' template as flexledger reads it, CSV or the first sheet of an xlsx workbook):

* the first row names the meters: a first cell (a label, e.g. ``date``), then one cell per
  offline meter, its name or id;
* each further row is one day: its date (``YYYY-MM-DD``, an ISO datetime at midnight, or an xlsx
  date cell), then each meter's energy of that local day in kWh (consumption positive; an empty
  cell: no reading).
"""

from __future__ import annotations

import csv
import io
import math
import uuid
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from domain.events import DomainEvent, register_event

MAX_FILE_BYTES = 1_000_000
MAX_METERS = 200
MAX_DAYS = 3_700
"""Bounds of one file: its size, its meter columns, its day rows (about ten years)."""


def offline_file_stream(file_id: int) -> str:
    return f"myemsofflinefile-{file_id}"


@register_event
class MyEmsOfflineMeterFileUploaded(DomainEvent):
    file_id: int
    account_id: int
    uuid: uuid.UUID
    file_name: str
    content_b64: str
    """The file as uploaded, base64 (kept for ``restore``)."""
    sha256: str


@register_event
class MyEmsOfflineMeterFileProcessed(DomainEvent):
    file_id: int
    status: Literal["done", "error"]
    message: str | None = None
    readings: int = 0
    """Readings in the file (stored now, or by an earlier processing of the same file)."""


@register_event
class MyEmsOfflineMeterFileDeleted(DomainEvent):
    file_id: int


class OfflineFileError(ValueError):
    """A file that cannot be read; ``field`` names the place (``file``, ``row 3``, ``column B``)."""

    def __init__(self, message: str, field: str = "file"):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class OfflineFile:
    """A parsed file: the meters named by the header (text as written) and, per day, the kWh of
    each meter (``None``: no reading)."""

    meters: list[str]
    days: list[tuple[date, list[float | None]]]


def _rows(file_name: str, content: bytes) -> list[tuple[Any, ...]]:
    if file_name.lower().endswith(".xlsx") or content[:2] == b"PK":
        import openpyxl  # an xlsx upload only

        try:
            workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
            raise OfflineFileError(f"not an xlsx workbook: {exc}") from exc
        try:
            return [
                row
                for _, row in zip(
                    range(MAX_DAYS + 2),
                    workbook.worksheets[0].iter_rows(values_only=True, max_col=MAX_METERS + 1),
                    strict=False,
                )
            ]
        finally:
            workbook.close()
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise OfflineFileError("a CSV file is UTF-8 text") from exc
    first = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first.count)  # the most frequent of MyEMS' CSV delimiters (',' on a tie)
    return [
        tuple(row)
        for _, row in zip(range(MAX_DAYS + 2), csv.reader(io.StringIO(text), delimiter=delimiter), strict=False)
    ]


def _day(value: Any, row: int) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return datetime.fromisoformat(str(value).strip()).date()
    except ValueError as exc:
        raise OfflineFileError(f"row {row}: {value!r} is not a date (YYYY-MM-DD)", f"row {row}") from exc


def _kwh(value: Any, row: int, column: int) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        kwh = float(value)
    except (TypeError, ValueError) as exc:
        raise OfflineFileError(f"row {row}, column {column + 1}: {value!r} is not a number", f"row {row}") from exc
    if not math.isfinite(kwh):
        raise OfflineFileError(f"row {row}, column {column + 1}: not a finite number", f"row {row}")
    return kwh


def parse_offline_file(file_name: str, content: bytes) -> OfflineFile:
    """The file's meters and days, or :class:`OfflineFileError` naming the first bad place."""
    if len(content) > MAX_FILE_BYTES:
        raise OfflineFileError(f"a file holds at most {MAX_FILE_BYTES} bytes")
    rows = [row for row in _rows(file_name, content) if any(cell not in (None, "") for cell in row)]
    if len(rows) > MAX_DAYS + 1:
        raise OfflineFileError(f"a file holds at most {MAX_DAYS} days")
    if len(rows) < 2:
        raise OfflineFileError("a header row naming the meters and at least one day")
    meters = [str(cell).strip() for cell in rows[0][1:] if cell not in (None, "")]
    if not meters or len(meters) > MAX_METERS:
        raise OfflineFileError(f"the header names 1 to {MAX_METERS} meters after its first cell", "row 1")
    days, seen = [], set()
    for number, row in enumerate(rows[1:], start=2):
        day = _day(row[0], number)
        if day in seen:
            raise OfflineFileError(f"row {number}: {day} twice", f"row {number}")
        seen.add(day)
        cells = list(row[1 : len(meters) + 1]) + [None] * (len(meters) + 1 - len(row))
        days.append((day, [_kwh(cell, number, index + 1) for index, cell in enumerate(cells)]))
    return OfflineFile(meters=meters, days=sorted(days))
