"""Readings in CSV text: ``datetime,value`` rows, as the CLI import and the upload endpoint take them.

Format (documented in the README):

* one reading per line: the event's start (ISO 8601) and its value, separated by a comma;
  further columns are ignored;
* an optional header line: the first line is a header when its first field is not a datetime
  (no line is ever dropped otherwise);
* datetimes carry an offset (``Z`` or ``+01:00``); a naive datetime is an error unless the caller
  names a timezone (``--timezone Europe/Amsterdam``), which then applies to naive datetimes only;
* values are finite numbers (``NaN``, ``inf`` and empty values are errors).

Errors name the line (1-based, counting the header) and stop the import before anything is
stored. The values are in the unit the caller states (the sensor's by default).
"""

from __future__ import annotations

import csv
import io
import math
from datetime import datetime
from operator import attrgetter, itemgetter, methodcaller
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class ReadingsCsvError(ValueError):
    """A CSV that cannot be read as readings; ``line`` is the 1-based line number (0: the whole file)."""

    def __init__(self, line: int, message: str):
        self.line = line
        super().__init__(f"line {line}: {message}" if line else message)


def parse_readings_csv(text: str, timezone: str | None = None) -> list[tuple[datetime, float]]:
    """(timezone-aware start, value) rows of a CSV text, sorted by start; raises ReadingsCsvError."""
    zone = _zone(timezone)
    rows = _parse_regular(text, zone)
    if rows is None:
        rows = _parse_line_by_line(text, zone)
    rows.sort(key=itemgetter(0))
    return rows


def _parse_regular(text: str, zone: ZoneInfo | None) -> list[tuple[datetime, float]] | None:
    """The rows of a file without surprises (no blank line or padded datetime, every value finite,
    naive datetimes only with a zone), parsed column by column in C; None for any other file,
    which :func:`_parse_line_by_line` then reads (and explains)."""
    columns = _two_columns(text)
    if columns is None:
        return None
    try:
        moments = list(map(datetime.fromisoformat, columns[0]))
        values = list(map(float, columns[1]))
    except ValueError:
        return None
    if not all(map(math.isfinite, values)):
        return None
    if None in map(attrgetter("tzinfo"), moments):
        if zone is None:
            return None
        moments = [m.replace(tzinfo=zone) if m.tzinfo is None else m for m in moments]
    return list(zip(moments, values, strict=True))


def _two_columns(text: str) -> tuple[list[str], list[str]] | None:
    """(first fields, second fields) of the lines after an optional header; None when a line is blank
    or the first field of one has no second, and for files with quotes (csv's reader splits those)."""
    if '"' in text:
        table = list(csv.reader(io.StringIO(text)))
        if table and table[0] and _datetime_or_none(table[0][0]) is None:
            del table[0]  # a header line
        try:
            return list(map(itemgetter(0), table)), list(map(itemgetter(1), table))
        except IndexError:
            return None
    lines = text.splitlines()
    if lines and _datetime_or_none(lines[0].split(",", 1)[0]) is None:
        del lines[0]  # a header line
    commas = list(map(methodcaller("count", ","), lines))
    if commas.count(1) != len(commas):  # a blank line, a missing value or more columns: not split here
        return None
    fields = ",".join(lines).split(",")
    return fields[0::2], fields[1::2]


def _datetime_or_none(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        return None


def _parse_line_by_line(text: str, zone: ZoneInfo | None) -> list[tuple[datetime, float]]:
    """Every row checked on its own, so that an error names its line."""
    rows: list[tuple[datetime, float]] = []
    for line_no, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or not row[0].strip():
            continue
        moment = _datetime(row[0].strip(), zone, line_no)
        if moment is None:
            if line_no == 1:
                continue  # a header line
            raise ReadingsCsvError(line_no, f"{row[0].strip()!r} is not an ISO 8601 datetime")
        if len(row) < 2:
            raise ReadingsCsvError(line_no, "a value is missing (expected: datetime,value)")
        rows.append((moment, _value(row[1].strip(), line_no)))
    return rows


def _zone(timezone: str | None) -> ZoneInfo | None:
    if timezone is None:
        return None
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ReadingsCsvError(0, f"unknown timezone {timezone!r} (use an IANA name such as Europe/Amsterdam)") from exc


def _datetime(text: str, zone: ZoneInfo | None, line_no: int) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        if zone is None:
            raise ReadingsCsvError(line_no, f"datetime {text!r} has no offset (add one, or pass a timezone)")
        moment = moment.replace(tzinfo=zone)
    return moment


def _value(text: str, line_no: int) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ReadingsCsvError(line_no, f"value {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ReadingsCsvError(line_no, f"value {text!r} is not a finite number")
    return value
