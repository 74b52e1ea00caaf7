"""ISO 8601 durations and datetimes as FlexMeasures sends them (``PT15M``, ``-PT10M``, ``P1D``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

import isodate
from pydantic import AwareDatetime, BeforeValidator, PlainSerializer

from api.validation import check_duration


def parse_duration(value: str | timedelta) -> timedelta:
    """Parse an ISO 8601 duration, allowing a leading minus (FlexMeasures' negative horizons).

    At most :data:`api.validation.MAX_DURATION` either way (ValueError beyond it).
    """
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 duration such as PT15M")
    text = value.strip()
    sign = -1 if text.startswith("-") else 1
    if len(text) > 64:
        raise ValueError(f"{value[:64]!r}... is not an ISO 8601 duration such as PT15M")
    try:
        parsed = isodate.parse_duration(text.lstrip("+-"))
    except (isodate.ISO8601Error, ValueError, OverflowError) as exc:
        raise ValueError(f"{value!r} is not an ISO 8601 duration such as PT15M") from exc
    if isinstance(parsed, isodate.Duration):  # months/years: calendar-dependent, not allowed
        raise ValueError(f"{value!r}: use days, hours, minutes or seconds, not months or years")
    return check_duration(sign * parsed)


def format_duration(value: timedelta) -> str:
    """``timedelta`` to ISO 8601 (``PT15M``, ``P1D``, ``-PT10M``)."""
    if value < timedelta(0):
        return "-" + isodate.duration_isoformat(-value)
    return isodate.duration_isoformat(value)


def hours_duration(value: timedelta) -> str:
    """A duration of whole hours as ``PT48H`` (not ``P2D``: a forecast horizon reads in hours)."""
    if value > timedelta(0) and value % timedelta(hours=1) == timedelta(0):
        return f"PT{value // timedelta(hours=1)}H"
    return format_duration(value)


IsoDuration = Annotated[timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration)]
AwareTime = AwareDatetime


def format_time(moment: datetime) -> str:
    return moment.isoformat()
