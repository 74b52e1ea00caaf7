"""Compiled kernels (numba ``@njit``) of the forecaster's per-reading work outside the lag
models: the selector's scoring of a matured slot and its record of a forecast, the windowed
error table's adds, the ensemble's weights and its clipped weighted mean, and Holt-Winters'
forecast. Each is one call instead of a dozen small numpy calls.

Arrays are float64 and C-contiguous unless said otherwise. Every kernel does the arithmetic of
the numpy or Python code it replaces in the same order (sums run from the first term on, one
term after the other), so results are bit-identical; no kernel uses fast-math.

How they are compiled and cached: :mod:`domain.forecasting.compiled`.
"""

from __future__ import annotations

import math

import numpy as np

from domain.forecasting.compiled import compiled

NO_BIN = -(2**62)
"""Bin index of a bin never opened, first target of a ring row holding no forecast (older than any real one)."""


def nan_bounds(value_range: tuple[float | None, float | None]) -> tuple[float, float]:
    """A ``(low, high)`` value range as the kernels read it: floats, NaN for no bound."""
    low, high = value_range
    return (math.nan if low is None else float(low)), (math.nan if high is None else float(high))


@compiled
def full_slot_sums(
    values: np.ndarray, slot: int, actual: float, runs: np.ndarray, errors: np.ndarray, sums: np.ndarray
) -> None:
    """The selector's sums for a matured ``slot`` that every cell of its ring covers, into ``sums``.

    ``values`` ``(ring, depth, models)``: row ``r`` holds the forecast whose first target is
    ``≡ r`` (mod ``ring``), step ``k`` (0-based) targeting ``first + k``; the slot's cell of
    step ``k`` is row ``(slot - k) % ring``. ``errors`` ``(depth, models)`` scratch gets
    ``|actual - value|`` per cell, the oldest forecast (largest step) first. ``runs``
    ``(n, 3)`` int64: ``(bucket, first, end)`` of each run of those rows that shares a bucket.
    ``sums`` ``(buckets, models + 2)`` becomes, per bucket, the errors of its run added row
    after row (zeros: no run), then ``|actual| * cells`` and ``cells``.
    """
    ring, depth, models = values.shape
    for j in range(depth):
        step = depth - 1 - j
        row = (slot - step) % ring
        for m in range(models):
            errors[j, m] = abs(actual - values[row, step, m])
    sums[:] = 0.0
    absolute = abs(actual)
    for r in range(runs.shape[0]):
        bucket, first, end = runs[r, 0], runs[r, 1], runs[r, 2]
        for m in range(models):
            total = errors[first, m]
            for j in range(first + 1, end):
                total += errors[j, m]
            sums[bucket, m] = total
        cells = float(end - first)
        sums[bucket, models] = absolute * cells
        sums[bucket, models + 1] = cells


@compiled
def store_forecast(
    values: np.ndarray, firsts: np.ndarray, lengths: np.ndarray, first: int, next_slot: int, predictions: np.ndarray
) -> bool:
    """The selector's ring takes a forecast of consecutive targets from ``first`` on, if its row is free.

    ``values`` ``(ring, depth, models)``, ``firsts`` and ``lengths`` (int64, per row): the
    forecast a row holds (``firsts`` :data:`NO_BIN`: none).
    Row ``first % ring`` is free when it holds none or every target of its forecast is before
    ``next_slot`` (the next slot to score). Then ``values[row, k, m] = predictions[m, k]`` for
    the ``(models, steps)`` of ``predictions``, the row's first and length are set, and True is
    returned; else nothing changes and False is returned.
    """
    ring, depth, models = values.shape
    steps = predictions.shape[1]
    if predictions.shape[0] != models or steps > depth:
        raise ValueError("a forecast must hold one row per model and at most the ring's steps")
    row = first % ring
    held = firsts[row]
    if held != NO_BIN and held + lengths[row] > next_slot:
        return False
    for k in range(steps):
        for m in range(models):
            values[row, k, m] = predictions[m, k]
    firsts[row] = first
    lengths[row] = steps
    return True


@compiled
def add_to_window(
    bin_index: np.ndarray, bins: np.ndarray, total: np.ndarray, newest: np.ndarray, index: int, sums: np.ndarray
) -> None:
    """The windowed error table's add of one row of ``sums`` per bucket, at bin ``index``.

    ``bins`` ``(buckets, span, width)``: a ring of the window's bins per bucket, bin ``i`` at
    position ``i % span`` (``bin_index`` ``(buckets, span)`` int64: which bin each holds);
    ``total`` ``(buckets, width)``: the window's sums; ``newest`` (int64): each bucket's newest
    bin. A bucket with a count (``sums[b, -1] > 0``) whose newest bin is before ``index`` first
    opens it: its total is re-summed from its bins still in the window, oldest first, and the
    new bin starts at zero. Then ``sums[b]`` is added to bucket ``b``'s newest bin and total.
    """
    buckets, span, width = bins.shape
    for b in range(buckets):
        if newest[b] < index and sums[b, width - 1] > 0:
            total[b, :] = 0.0
            for i in range(index - span + 1, index):  # the bins still in the window, oldest first
                position = i % span
                if bin_index[b, position] == i:
                    for c in range(width):
                        total[b, c] += bins[b, position, c]
            position = index % span
            bin_index[b, position] = index
            bins[b, position, :] = 0.0
            newest[b] = index
    for b in range(buckets):
        position = newest[b] % span
        for c in range(width):
            bins[b, position, c] += sums[b, c]
            total[b, c] += sums[b, c]


@compiled
def _lowest(values: np.ndarray, count: int, best: np.ndarray, chosen: np.ndarray) -> None:
    """The indices of the ``count`` lowest ``values`` into ``best``, lowest first, the lower
    index first among equals (a stable sort's order); ``chosen`` is scratch."""
    chosen[:] = False
    for k in range(count):
        pick = -1
        for m in range(values.shape[0]):
            if not chosen[m] and (pick < 0 or values[m] < values[pick]):
                pick = m
        chosen[pick] = True
        best[k] = pick


@compiled
def fast_weights(
    abs_errors: np.ndarray, counts: np.ndarray, min_count: int, power: float, top: int, weights: np.ndarray
) -> int:
    """The ensemble weights per bucket where the usual case holds, into ``weights``; returns the
    number of the other buckets, whose rows are set to NaN (left to the caller).

    ``abs_errors`` ``(buckets, models)`` windowed sums over ``counts[b]`` matured forecasts;
    ``weights`` ``(buckets, models)``. The usual case: ``counts[b] >= max(1, min_count)``,
    every MAE (``abs_errors / count``) finite and the lowest above 0. Then the ``top`` lowest
    MAEs (ties: model order) weigh ``mae ** -power / (their sum, added in MAE order)`` and the
    others 0.
    """
    buckets, models = abs_errors.shape
    others = 0
    maes = np.empty(models)
    chosen = np.empty(models, dtype=np.bool_)
    best = np.empty(models, dtype=np.int64)
    raw = np.empty(models)
    top = min(max(1, top), models)
    for b in range(buckets):
        count = counts[b]
        usual = count >= min_count and count >= 1.0 and models > 0
        if usual:
            for m in range(models):
                maes[m] = abs_errors[b, m] / count
            usual = np.isfinite(maes).all()
        if usual:
            _lowest(maes, top, best, chosen)
            usual = maes[best[0]] > 0.0
        if not usual:
            weights[b, :] = math.nan
            others += 1
            continue
        total = 0.0
        for k in range(top):
            raw[k] = maes[best[k]] ** -power
            total += raw[k]
        weights[b, :] = 0.0 / total
        for k in range(top):
            weights[b, best[k]] = raw[k] / total
    return others


@compiled
def clip_rows(table: np.ndarray, first: int, end: int, low: float, high: float) -> None:
    """Rows ``first .. end - 1`` of ``table`` clipped to ``[low, high]`` in place (NaN: no bound).

    A value not strictly inside a bound becomes that bound, NaN included (as numpy's vectorised
    ``fmax``/``fmin`` do: -0.0 at a bound of 0.0 becomes 0.0).
    """
    for r in range(first, end):
        for k in range(table.shape[1]):
            value = table[r, k]
            if low == low and not value > low:
                value = low
            if high == high and not value < high:
                value = high
            table[r, k] = value


@compiled
def weighted_mean(
    weights: np.ndarray, row_of_step: np.ndarray, table: np.ndarray, models: int, out: np.ndarray
) -> None:
    """Per step ``k``: the ``models`` first rows of ``table[:, k]`` weighted by
    ``weights[row_of_step[k]]``, into ``out[k]``.

    The products are added in model order, from the first on. A model of weight 0 adds
    ``0 * value``: nothing for a finite value. If any step's mean is not finite, every step is
    redone leaving the models of weight 0 out (their values may be anything).
    """
    steps = row_of_step.shape[0]
    if models < 1 or weights.shape[1] != models or steps != table.shape[1] or steps != out.shape[0]:
        raise ValueError("one weight per model and one row of weights per step are needed")
    for k in range(steps):
        if not 0 <= row_of_step[k] < weights.shape[0]:
            raise ValueError("a step's row of weights is out of range")
    finite = True
    for k in range(steps):
        w = weights[row_of_step[k]]
        value = w[0] * table[0, k]
        for m in range(1, models):
            value += w[m] * table[m, k]
        out[k] = value
        finite = finite and math.isfinite(value)
    if finite:
        return
    for k in range(steps):
        w = weights[row_of_step[k]]
        value = w[0] * table[0, k] if w[0] > 0.0 else 0.0
        for m in range(1, models):
            value += w[m] * table[m, k] if w[m] > 0.0 else 0.0
        out[k] = value


@compiled
def clipped_weighted_mean(
    weights: np.ndarray, row_of_step: np.ndarray, table: np.ndarray, low: float, high: float
) -> None:
    """``table`` (models + 1, steps): the models' rows clipped to ``[low, high]``, then their
    :func:`weighted_mean` into the last row, clipped too (:func:`clip_rows`)."""
    models = table.shape[0] - 1
    clip_rows(table, 0, models, low, high)
    weighted_mean(weights, row_of_step, table, models, table[models])
    clip_rows(table, models, models + 1, low, high)


@compiled
def add_level_and_trend(seasonal: np.ndarray, level: float, trend: float, steps: np.ndarray) -> None:
    """Holt-Winters' forecast in place of its seasonal terms: ``(level + steps[k] * trend) + seasonal[k]``
    per step (``steps``: how many slots ahead, as floats; no trend: ``trend`` 0.0)."""
    for k in range(seasonal.shape[0]):
        seasonal[k] = (level + steps[k] * trend) + seasonal[k]
