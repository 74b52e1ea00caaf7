"""Compiled kernels (numba ``@njit``) of the forecaster's per-reading bookkeeping outside its
models: the selector's scoring of a matured slot, the windowed error table's adds, the
ensemble's weights and its weighted mean. Each is one call instead of a dozen small numpy calls.

Arrays are float64 and C-contiguous unless said otherwise. Every kernel does the arithmetic of
the numpy or Python code it replaces in the same order (sums run from the first term on, one
term after the other), so results are bit-identical; no kernel uses fast-math.

Compiled code is cached on disk (``cache=True``: next to this file, or numba's fallback
directory); where no cache directory is writable the kernels are compiled in each process.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


def _compiled(function):
    """``function`` compiled by numba, cached on disk where a cache directory is writable."""
    try:
        return njit(cache=True)(function)
    except RuntimeError:  # no writable cache location: compile per process
        return njit(function)


def nan_bounds(value_range: tuple[float | None, float | None]) -> tuple[float, float]:
    """A ``(low, high)`` value range as the kernels read it: floats, NaN for no bound."""
    low, high = value_range
    return (math.nan if low is None else float(low)), (math.nan if high is None else float(high))


@_compiled
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


@_compiled
def store_transposed(cells: np.ndarray, predictions: np.ndarray) -> None:
    """``cells[k, m] = predictions[m, k]`` for the ``(models, steps)`` of ``predictions``: a
    forecast (one row per model) into a row of the selector's ring (one row per step)."""
    models, steps = predictions.shape
    for k in range(steps):
        for m in range(models):
            cells[k, m] = predictions[m, k]


@_compiled
def add_to_newest_bins(bins: np.ndarray, total: np.ndarray, newest: np.ndarray, index: int, sums: np.ndarray) -> bool:
    """The windowed error table's add of one row of ``sums`` per bucket, unless a bucket must open a bin.

    ``bins`` ``(buckets, span, width)``, ``total`` ``(buckets, width)``, ``newest`` the
    newest bin index per bucket (int64; its bin is at ``newest % span``), ``index`` the bin of
    the time added. Returns False and changes nothing when a bucket with a count
    (``sums[b, -1] > 0``) has its newest bin before ``index``; else adds ``sums[b]`` to bucket
    ``b``'s newest bin and to its total and returns True.
    """
    buckets, span, width = bins.shape
    for b in range(buckets):
        if newest[b] < index and sums[b, width - 1] > 0:
            return False
    for b in range(buckets):
        position = newest[b] % span
        for c in range(width):
            bins[b, position, c] += sums[b, c]
            total[b, c] += sums[b, c]
    return True


@_compiled
def fast_weights(
    abs_errors: np.ndarray, counts: np.ndarray, min_count: int, power: float, top: int
) -> tuple[np.ndarray, np.ndarray]:
    """The ensemble weights per bucket where the usual case holds: ``(weights, others)``.

    ``abs_errors`` ``(buckets, models)`` windowed sums over ``counts[b]`` matured forecasts.
    The usual case: ``counts[b] >= max(1, min_count)``, every MAE (``abs_errors / count``)
    finite and the lowest above 0. Then the ``top`` lowest MAEs (ties: model order) weigh
    ``mae ** -power / (their sum, added in MAE order)`` and the others 0. ``weights`` is a new
    ``(buckets, models)`` array whose rows of the buckets in ``others`` (int64, ascending: not
    the usual case) are left to the caller.
    """
    buckets, models = abs_errors.shape
    weights = np.empty((buckets, models))
    others = np.empty(buckets, dtype=np.int64)
    n_others = 0
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
                if not math.isfinite(maes[m]):
                    usual = False
        if usual:
            chosen[:] = False
            for k in range(top):  # selection by MAE, the lower index first among equals
                pick = -1
                for m in range(models):
                    if not chosen[m] and (pick < 0 or maes[m] < maes[pick]):
                        pick = m
                chosen[pick] = True
                best[k] = pick
            usual = maes[best[0]] > 0.0
        if not usual:
            others[n_others] = b
            n_others += 1
            continue
        total = 0.0
        for k in range(top):
            raw[k] = maes[best[k]] ** -power
            total += raw[k]
        for m in range(models):
            weights[b, m] = 0.0 / total
        for k in range(top):
            weights[b, best[k]] = raw[k] / total
    return weights, others[:n_others]


@_compiled
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


@_compiled
def weighted_mean(weights: np.ndarray, row_of_step: np.ndarray, table: np.ndarray, models: int, out: np.ndarray) -> None:
    """Per step ``k``: the ``models`` first rows of ``table[:, k]`` weighted by
    ``weights[row_of_step[k]]``, into ``out[k]``.

    The products are added in model order, from the first on. A model of weight 0 adds
    ``0 * value``: nothing for a finite value. If any step's mean is not finite, every step is
    redone leaving the models of weight 0 out (their values may be anything).
    """
    steps = row_of_step.shape[0]
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


@_compiled
def clipped_weighted_mean(weights: np.ndarray, row_of_step: np.ndarray, table: np.ndarray, low: float, high: float) -> None:
    """``table`` (models + 1, steps): the models' rows clipped to ``[low, high]``, then their
    :func:`weighted_mean` into the last row, clipped too (:func:`clip_rows`)."""
    models = table.shape[0] - 1
    clip_rows(table, 0, models, low, high)
    weighted_mean(weights, row_of_step, table, models, table[models])
    clip_rows(table, models, models + 1, low, high)
