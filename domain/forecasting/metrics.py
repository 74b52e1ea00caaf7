"""Forecast error metrics: WAPE, 1-WAPE, MAE, and running (windowed) versions.

All functions are pure. Errors are in the unit of the series (e.g. kW); WAPE is a fraction
(0.12 = 12 %). 1-WAPE is the "accuracy" figure FlexMeasures reports (1.0 = perfect).

    WAPE   = sum(|actual - predicted|) / sum(|actual|)
    1-WAPE = 1 - WAPE
    MAE    = sum(|actual - predicted|) / n
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from domain.forecasting.ensemble_kernels import NO_BIN, add_to_window


def _pairs(actual: Iterable[float], predicted: Iterable[float]) -> list[tuple[float, float]]:
    pairs = [(float(a), float(p)) for a, p in zip(actual, predicted, strict=True)]
    return [(a, p) for a, p in pairs if math.isfinite(a) and math.isfinite(p)]


def wape(actual: Iterable[float], predicted: Iterable[float]) -> float:
    """Weighted absolute percentage error (fraction). NaN pairs are skipped; NaN if sum|actual| is 0."""
    pairs = _pairs(actual, predicted)
    denominator = sum(abs(a) for a, _ in pairs)
    if denominator == 0.0:
        return math.nan
    return sum(abs(a - p) for a, p in pairs) / denominator


def one_minus_wape(actual: Iterable[float], predicted: Iterable[float]) -> float:
    """1 - WAPE (fraction; 1.0 is perfect, can be negative for very bad forecasts)."""
    return 1.0 - wape(actual, predicted)


def mae(actual: Iterable[float], predicted: Iterable[float]) -> float:
    """Mean absolute error, in the unit of the series. NaN pairs are skipped; NaN if none are left."""
    pairs = _pairs(actual, predicted)
    if not pairs:
        return math.nan
    return sum(abs(a - p) for a, p in pairs) / len(pairs)


@dataclass(slots=True)
class ErrorTotals:
    """Running sums from which WAPE, 1-WAPE and MAE follow; ``add`` is O(1)."""

    abs_error: float = 0.0
    abs_actual: float = 0.0
    count: int = 0

    def add(self, actual: float, predicted: float) -> None:
        self.abs_error += abs(actual - predicted)
        self.abs_actual += abs(actual)
        self.count += 1

    def merge(self, other: ErrorTotals) -> None:
        self.abs_error += other.abs_error
        self.abs_actual += other.abs_actual
        self.count += other.count

    @property
    def wape(self) -> float:
        return self.abs_error / self.abs_actual if self.abs_actual > 0.0 else math.nan

    @property
    def one_minus_wape(self) -> float:
        return 1.0 - self.wape

    @property
    def mae(self) -> float:
        return self.abs_error / self.count if self.count else math.nan

    def as_dict(self) -> dict[str, float]:
        """``{"one_minus_wape", "wape", "mae", "n"}`` for an API response."""
        return {"one_minus_wape": self.one_minus_wape, "wape": self.wape, "mae": self.mae, "n": self.count}


class RunningWindowError:
    """Error totals over the last ``window`` time units, kept in bins of ``bin_width`` units.

    Time is an integer (e.g. a slot index of the forecast target). Observations must arrive
    with non-decreasing bin index for the window to be exact; an older one is added to the
    newest bin (a deterministic approximation). The running total is re-summed from the bins
    whenever a bin is opened (and old ones evicted), so it never subtracts and never drifts;
    ``add`` and ``totals`` are O(1) amortised.
    """

    __slots__ = ("window", "bin_width", "_bins", "_total")

    def __init__(self, window: int, bin_width: int = 1) -> None:
        if window <= 0 or bin_width <= 0:
            raise ValueError("window and bin_width must be positive")
        self.window = window
        self.bin_width = bin_width
        self._bins: deque[tuple[int, ErrorTotals]] = deque()
        self._total = ErrorTotals()

    def add(self, time: int, actual: float, predicted: float) -> None:
        self.add_sums(time, abs(actual - predicted), abs(actual), 1)

    def add_sums(self, time: int, abs_error: float, abs_actual: float, count: int) -> None:
        """Add ``count`` observations at ``time`` at once, by their summed absolute error and actual."""
        index = time // self.bin_width
        bins = self._bins
        if not bins or bins[-1][0] < index:
            oldest = index - (self.window - 1) // self.bin_width
            while bins and bins[0][0] < oldest:
                bins.popleft()
            total = ErrorTotals()
            for _, totals in bins:
                total.merge(totals)
            self._total = total
            bins.append((index, ErrorTotals()))
        for totals in (bins[-1][1], self._total):
            totals.abs_error += abs_error
            totals.abs_actual += abs_actual
            totals.count += count

    def totals(self) -> ErrorTotals:
        """A copy of the totals over the window."""
        total = self._total
        return ErrorTotals(total.abs_error, total.abs_actual, total.count)

    def __getstate__(self) -> tuple[int, int, list[tuple[int, ErrorTotals]], ErrorTotals]:
        return self.window, self.bin_width, list(self._bins), self._total

    def __setstate__(self, state: tuple[int, int, list[tuple[int, ErrorTotals]], ErrorTotals]) -> None:
        self.window, self.bin_width, bins, self._total = state
        self._bins = deque(bins)


class WindowedErrorTable:
    """:class:`RunningWindowError` for a table of horizon buckets x models, in numpy arrays.

    Every model of a bucket is scored on the same targets (one forecast holds all models), so
    a bucket's window shares one sum of ``|actual|`` and one count; only the absolute error is
    per model. Per bin and in the running total a row holds ``[abs_error per model...,
    abs_actual, count]`` (the count as a float: exact up to 2**53). The arithmetic is that of
    :class:`RunningWindowError`, element for element: a bucket's total is re-summed from its
    bins (oldest first) when it opens a bin, then every observation is added to the newest bin
    and to the total, so the figures equal those of one ``RunningWindowError`` per cell.
    """

    __slots__ = (
        "window",
        "bin_width",
        "models",
        "_bin_index",
        "_bins",
        "_total",
        "_newest",
    )

    def __init__(self, buckets: int, models: int, window: int, bin_width: int = 1) -> None:
        if window <= 0 or bin_width <= 0:
            raise ValueError("window and bin_width must be positive")
        self.window = window
        self.bin_width = bin_width
        self.models = models
        span = (window - 1) // bin_width + 1  # bins a window holds: a ring of that many per bucket
        self._bin_index = np.full((buckets, span), NO_BIN, dtype=np.int64)  # the bin each position holds
        self._bins = np.zeros((buckets, span, models + 2))
        self._total = np.zeros((buckets, models + 2))
        self._newest = np.full(buckets, NO_BIN, dtype=np.int64)  # newest bin index per bucket

    def add(self, time: int, sums: np.ndarray) -> None:
        """Add one row ``[abs_error per model..., abs_actual, count]`` per bucket at ``time``.

        A bucket with count 0 had no observations (its row must be zeros): it opens no bin, and
        adding zeros changes nothing. An older time goes to the bucket's newest bin. The adds
        are one compiled call (:func:`~domain.forecasting.ensemble_kernels.add_to_window`).
        """
        add_to_window(self._bin_index, self._bins, self._total, self._newest, time // self.bin_width, sums)

    def totals(self, bucket: int, models: int | None = None) -> list[ErrorTotals]:
        """Copies of the window's totals of ``bucket``, for its first ``models`` models (default all)."""
        *errors, actual, count = self._total[bucket].tolist()
        n = int(count)
        return [ErrorTotals(error, actual, n) for error in errors[:models]]

    def error_sums(self, models: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Per bucket: the summed absolute error of the first ``models`` models (default all;
        buckets x models) and the count (views: they change as observations are added)."""
        return self._total[:, : self.models if models is None else min(models, self.models)], self._total[:, -1]
