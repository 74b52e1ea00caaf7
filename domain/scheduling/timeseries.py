"""Time grids for scheduling: UTC step grids, resampling series, time-bound segments.

The schedule lives on a regular grid in UTC: step ``i`` covers ``[start + i*res, start + (i+1)*res)``
and instant ``k`` is ``start + k*res`` (``k = 0 .. n_steps``). Working in UTC makes DST days
come out right: a local day has 23, 24 or 25 hours, i.e. 92, 96 or 100 quarter-hour steps.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np


def to_utc(value: datetime, what: str = "datetime") -> datetime:
    """Convert an aware datetime to UTC; naive datetimes raise ``ValueError``."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(UTC)


@dataclass(frozen=True, slots=True, eq=False)
class TimeSeries:
    """A regular series supplied by the caller (e.g. a price or power sensor's values).

    ``values[j]`` holds for ``[start + j*resolution, start + (j+1)*resolution)``, in ``unit``
    (e.g. ``"EUR/MWh"`` or ``"kW"``; power: consumption positive, production negative).
    NaN marks a missing value.
    """

    start: datetime
    resolution: timedelta
    values: np.ndarray
    unit: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", to_utc(self.start, "TimeSeries.start"))
        object.__setattr__(self, "values", np.asarray(self.values, dtype=float).ravel())
        if self.resolution <= timedelta(0):
            raise ValueError("TimeSeries.resolution must be positive")

    @property
    def end(self) -> datetime:
        return self.start + self.resolution * len(self.values)


@dataclass(frozen=True, slots=True)
class Segment:
    """A value holding from ``start`` to ``end`` (an instant when ``start == end``), in UTC."""

    start: datetime
    end: datetime
    value: float


@dataclass(frozen=True, slots=True)
class Grid:
    """A regular UTC grid of ``n_steps`` steps of ``resolution`` from ``start``."""

    start: datetime
    resolution: timedelta
    n_steps: int
    _seconds: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", to_utc(self.start, "start"))
        object.__setattr__(self, "_seconds", self.resolution.total_seconds())

    @classmethod
    def between(cls, start: datetime, end: datetime, resolution: timedelta) -> Grid:
        """The grid from ``start`` to ``end``; their UTC difference must be a whole number of steps."""
        if resolution <= timedelta(0):
            raise ValueError("resolution must be positive")
        span = to_utc(end, "end") - to_utc(start, "start")
        n_steps, rest = divmod(span, resolution)
        if n_steps <= 0 or rest:
            raise ValueError(f"end - start ({span}) must be a positive multiple of the resolution ({resolution})")
        return cls(start, resolution, int(n_steps))

    @property
    def hours(self) -> float:
        """Step length in hours (kW * hours = kWh)."""
        return self._seconds / 3600.0

    @property
    def end(self) -> datetime:
        return self.start + self.resolution * self.n_steps

    def offset_s(self, value: datetime) -> float:
        """Seconds from the grid start to an aware datetime."""
        return (to_utc(value) - self.start).total_seconds()

    def instant_floor(self, value: datetime) -> int:
        """Index of the last grid instant at or before ``value`` (may be < 0 or > n_steps)."""
        return math.floor(self.offset_s(value) / self._seconds + 1e-9)

    def instant(self, k: int) -> datetime:
        return self.start + self.resolution * k


def resample(series: TimeSeries, grid: Grid) -> np.ndarray:
    """Time-weighted mean of ``series`` over each grid step (upsampling repeats values).

    Works for any pair of resolutions and offsets. A step not fully covered by valid values
    is NaN. Values keep the series' unit.
    """
    r = series.resolution.total_seconds()
    values = series.values
    valid = ~np.isnan(values)
    x = grid.offset_s(series.start) + r * np.arange(len(values) + 1)
    integral = np.concatenate([[0.0], np.cumsum(np.where(valid, values, 0.0) * r)])
    covered = np.concatenate([[0.0], np.cumsum(valid * r)])
    y = grid._seconds * np.arange(grid.n_steps + 1)
    step_integral = np.diff(np.interp(y, x, integral))
    step_covered = np.diff(np.interp(y, x, covered))
    out = np.full(grid.n_steps, np.nan)
    full = step_covered >= grid._seconds * (1 - 1e-9)
    out[full] = step_integral[full] / step_covered[full]
    return out


def steps_from_segments(segments: Sequence[Segment], grid: Grid, default: float = np.nan) -> np.ndarray:
    """Per-step values: step ``i`` takes the value of the first segment with start <= t_i < end."""
    out = np.full(grid.n_steps, default, dtype=float)
    t = grid._seconds * np.arange(grid.n_steps)
    for seg in reversed(segments):
        mask = (t >= grid.offset_s(seg.start) - 1e-6) & (t < grid.offset_s(seg.end) - 1e-6)
        out[mask] = seg.value
    return out


def instants_from_segments(segments: Sequence[Segment], grid: Grid) -> np.ndarray:
    """Per-instant values (length ``n_steps + 1``, NaN where none).

    An instant segment (``start == end``) lands on the last grid instant at or before it; an
    interval applies to every instant in ``[start, end]``. Later segments do not override
    earlier ones (the first wins), as in FlexMeasures.
    """
    out = np.full(grid.n_steps + 1, np.nan)
    for seg in reversed(segments):
        first = grid.instant_floor(seg.start)
        if seg.end == seg.start:
            last = first
        else:
            first = math.ceil(grid.offset_s(seg.start) / grid._seconds - 1e-9)
            last = grid.instant_floor(seg.end)
        lo, hi = max(first, 0), min(last, grid.n_steps)
        if lo <= hi:
            out[lo : hi + 1] = seg.value
    return out
