"""The one validation layer for hostile input: ids, datetimes, durations, numbers, sizes.

Every router takes its ids, datetimes and numbers through these types and checks, so a class
of bad input is refused in one place (4xx with a stable code and the field), never a 5xx:

* :data:`Id` — an object id in a path, query or body: an integer in ``1 .. 2**63-1`` (the SQL
  ``BIGINT`` range; larger ids overflow SQLite and PostgreSQL). :func:`check_id` does the same
  for ids parsed out of text (USEF ``ea1`` addresses).
* :data:`Moment` — a timezone-aware datetime in years :data:`EARLIEST_YEAR` ..
  :data:`LATEST_YEAR` (so ``start + duration`` and time-zone conversions cannot leave the
  calendar); :func:`check_moment` for datetimes parsed by hand (v2.0).
* :data:`MAX_DURATION` — the longest duration accepted anywhere (``api.timefmt.parse_duration``).
* :data:`FiniteFloat` — a number that is neither NaN nor ±Infinity. Non-finite numbers (and
  integers beyond 64 bits, which no store can hold) are refused for **every** JSON body before
  routing (:func:`non_finite_path`, used by
  :class:`api.guards.NonFiniteJsonGuard`): ``NaN``, ``Infinity`` and overflowing literals such
  as ``1e309`` get 422 ``INVALID_VALUE`` naming the field (v2.0: 400, FlexMeasures' status).
  ``null`` in a series of values means "no value for this slot": nothing is stored for it and
  earlier beliefs about that slot stay as they were.
* :func:`check_reading_count` — how many readings one request may write
  (``FLEXLEDGER_MAX_READINGS_PER_REQUEST``) or one GET may return
  (``FLEXLEDGER_MAX_READINGS_PER_RESPONSE``): 413 ``TOO_MANY_READINGS`` naming the limit.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timedelta
from typing import Annotated, Any

from annotated_types import Ge, Le
from pydantic import AfterValidator, AwareDatetime
from pydantic import FiniteFloat as FiniteFloat  # re-exported: the one float type of request bodies

from api.errors import ApiError

MAX_ID = 2**63 - 1
"""Largest id (SQL BIGINT); object ids are positive."""
Id = Annotated[int, Ge(1), Le(MAX_ID)]

EARLIEST_YEAR, LATEST_YEAR = 1900, 2199
MAX_DURATION = timedelta(days=36_525)
"""About 100 years: with :data:`Moment`'s range, ``start + duration`` always stays in the calendar."""


def check_id(value: int, field: str, status: int = 422, code: str = "INVALID_ID") -> int:
    """``value`` if it is a valid object id, else :class:`ApiError` naming ``field``."""
    if not 1 <= value <= MAX_ID:
        raise ApiError(status, code, f"{field}: an id is an integer from 1 to {MAX_ID}", field)
    return value


_ID_TEXT = re.compile(r"[0-9]{1,19}")


def id_from_text(value: Any) -> int | None:
    """The id an int or a string of ASCII digits stands for, if it is a valid id; else ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and _ID_TEXT.fullmatch(value.strip()):
        value = int(value.strip())
    return value if isinstance(value, int) and 1 <= value <= MAX_ID else None


def moment_in_range(value: datetime) -> datetime:
    """``value`` if its year lies in EARLIEST_YEAR .. LATEST_YEAR; ValueError otherwise."""
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(f"must lie in the years {EARLIEST_YEAR} to {LATEST_YEAR}")
    return value


Moment = Annotated[AwareDatetime, AfterValidator(moment_in_range)]
"""A timezone-aware datetime within the supported years (naive: 422 naming the field)."""


def check_moment(value: datetime, field: str, status: int = 422, code: str = "INVALID_DATETIME") -> datetime:
    """Like :data:`Moment` for datetimes parsed by hand: :class:`ApiError` naming ``field``."""
    try:
        return moment_in_range(value)
    except ValueError as exc:
        raise ApiError(status, code, f"{field}: {exc}", field) from exc


def check_duration(value: timedelta) -> timedelta:
    """``value`` if ``|value| <= MAX_DURATION``; ValueError otherwise."""
    if abs(value) > MAX_DURATION:
        raise ValueError(f"durations are limited to {MAX_DURATION.days} days")
    return value


def check_reading_count(count: int, limit: int, what: str, field: str) -> None:
    """413 ``TOO_MANY_READINGS`` naming the limit when ``count`` exceeds it."""
    if count > limit:
        message = f"the request would {what} {count} readings; the limit is {limit} per request"
        raise ApiError(413, "TOO_MANY_READINGS", message, field)


REFUSED = "NaN, Infinity, numbers beyond a double or a 64-bit integer and NUL characters are not accepted"


class _NonFinite:
    """Stands for a NaN, ±Infinity or overflowing number while a body is checked."""


_NON_FINITE = _NonFinite()
_SUSPECT = re.compile(rb"NaN|Infinity|[eE]\+?\d{3}|\d{19}|\\u0000|\x00")
"""Cheap pre-check: a body without these bytes holds no out-of-range number."""
MIN_INT, MAX_INT = -(2**63), 2**63 - 1
"""Integers a body may hold (64-bit: what the event store's JSON encoder and SQL can store)."""


def _strict_float(text: str) -> float | _NonFinite:
    value = float(text)
    return value if math.isfinite(value) else _NON_FINITE


def _strict_int(text: str) -> int | _NonFinite:
    value = int(text) if len(text) <= 20 else MAX_INT + 1
    return value if MIN_INT <= value <= MAX_INT else _NON_FINITE


def _find(value: Any, path: str) -> str | None:
    if value is _NON_FINITE or (isinstance(value, str) and "\x00" in value):
        return path or "body"
    if isinstance(value, dict):
        if any("\x00" in k for k in value):
            return path or "body"
        items = ((f"{path}.{k}" if path else str(k), v) for k, v in value.items())
    elif isinstance(value, list):
        items = ((f"{path}.{i}" if path else str(i), v) for i, v in enumerate(value))
    else:
        return None
    for sub_path, item in items:
        found = _find(item, sub_path)
        if found is not None:
            return found
    return None


def _strict_loads(text: str | bytes) -> Any:
    """JSON with every non-finite or out-of-range number replaced by a marker."""
    return json.loads(text, parse_constant=lambda _name: _NON_FINITE, parse_float=_strict_float, parse_int=_strict_int)


def loads_finite(text: str | bytes) -> Any:
    """``json.loads`` for JSON sent inside a string field (``"attributes": "{...}"``): raises
    ValueError (for pydantic: 422 naming the field) on non-finite or out-of-range numbers."""
    parsed = _strict_loads(text)
    path = _find(parsed, "")
    if path is not None:
        raise ValueError(f"{path}: {REFUSED}")
    return parsed


def non_finite_path(body: bytes) -> str | None:
    """The field path (``values.2``) of the first NaN/Infinity/overflowing number in a JSON body
    (floats beyond a double, integers beyond 64 bits).

    ``None`` when there is none, or when the body is not JSON (its parser reports that).
    """
    if not _SUSPECT.search(body):
        return None
    try:
        parsed = _strict_loads(body)
    except (ValueError, RecursionError):
        return None
    return _find(parsed, "")
