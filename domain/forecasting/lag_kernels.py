"""Compiled kernels of the lag model (numba ``@njit``): the per-reading arithmetic of its ridge
bank and forecasts, each one call instead of many small numpy and BLAS calls.

Arrays are float64 and C-contiguous unless said otherwise; ``size`` is the number of feature
columns (:class:`~domain.forecasting.lag_rows.LagLayout`), ``count`` the number of bucket
models. Rows are mostly zeros (one-hot calendar and anomaly columns): the kernels skip zero
entries, which leaves every sum as it would be over all columns. No kernel uses fast-math, so
results are deterministic on a given machine (the summation order is fixed).

Compiled code is cached on disk (``cache=True``: next to this file, or numba's fallback
directory); where no cache directory is writable the kernels are compiled in each process.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

TRANSFORM_CODES = {None: 0, "sqrt": 1, "log1p": 2}
"""The value transforms of :data:`~domain.forecasting.transforms.TRANSFORMS` as kernel arguments."""


def _compiled(function):
    """``function`` compiled by numba, cached on disk where a cache directory is writable."""
    try:
        return njit(cache=True)(function)
    except RuntimeError:  # no writable cache location: compile per process
        return njit(function)


@_compiled
def _symmetric_product(a: np.ndarray, x: np.ndarray, nonzero: np.ndarray, p: np.ndarray) -> None:
    """``p = a @ x`` into ``p`` ``(size,)``, for ``a`` ``(size, size)`` symmetric of which only
    the lower triangle is read, and ``x`` zero but at its ``nonzero`` columns (ascending).

    Column ``j`` of ``a`` is row ``j`` of the triangle up to the diagonal (contiguous), and
    below it ``a[i, j]``, ``i > j``: those are summed row by row, rows between two nonzero
    columns ``nonzero[k]`` and ``nonzero[k + 1]`` over the same ``k + 1`` columns."""
    size, used = len(x), len(nonzero)
    p[:] = 0.0
    for k in range(used):
        j = nonzero[k]
        xj = x[j]
        for i in range(j):
            p[i] += a[j, i] * xj
        stop = nonzero[k + 1] if k + 1 < used else size
        for i in range(j, stop):
            total = 0.0
            for m in range(k + 1):
                total += a[i, nonzero[m]] * x[nonzero[m]]
            p[i] += total


@_compiled
def ridge_learn(
    inverse: np.ndarray,
    coefficients: np.ndarray,
    models: np.ndarray,
    rows: np.ndarray,
    target: float,
    beta: float,
    l1_delta: float,
) -> None:
    """Model ``models[r]`` of a ridge bank learns sample ``(rows[r], target)``, per ``r``, in place:
    the Sherman-Morrison update of :class:`~domain.forecasting.regressors.RidgeBank`.

    ``inverse`` ``(count, size, size)``: the inverse precisions, of which only the lower
    triangle (``[i, j]``, ``j <= i``) is read and updated; ``coefficients`` ``(count, size)``;
    ``models`` ``(k,)`` int64, distinct; ``rows`` ``(k, size)``; ``target`` and ``beta``
    (noise precision) floats. ``l1_delta`` > 0: an IRLS step towards the median, the sample
    weighing ``1 / max(|target - x . w|, l1_delta)`` (``w``: the coefficients before the
    update); NaN: least squares.

    Per model, with ``x`` the (weighted) row and ``A`` the inverse: ``p = A x``,
    ``c = beta / (1 + beta x.p)``, ``A -= c p p'`` and
    ``w += p (beta y (1 - c x.p) - c x.w)``.
    """
    size = rows.shape[1]
    p = np.empty(size)
    nonzero = np.empty(size, np.int64)
    for r in range(len(models)):
        x, a, w = rows[r], inverse[models[r]], coefficients[models[r]]
        used = 0
        for j in range(size):
            if x[j] != 0.0:
                nonzero[used] = j
                used += 1
        _symmetric_product(a, x, nonzero[:used], p)
        xp = xw = 0.0
        for k in range(used):
            j = nonzero[k]
            xp += x[j] * p[j]
            xw += x[j] * w[j]
        root = 1.0
        if l1_delta == l1_delta:  # IRLS: the row and target weighted by root, p by root too
            root = 1.0 / math.sqrt(max(abs(target - xw), l1_delta))
            xp, xw = xp * root * root, xw * root
        y = target * root
        factor = beta / (1.0 + beta * xp)
        alpha = -factor * root * root
        for i in range(size):
            t = alpha * p[i]
            for j in range(i + 1):
                a[i, j] += p[j] * t
        scale = root * (beta * y * (1.0 - factor * xp) - factor * xw)
        for j in range(size):
            w[j] += scale * p[j]


@_compiled
def predict_rows(
    rows: np.ndarray, coefficients: np.ndarray, models: np.ndarray, shift: float, scale: float, transform: int
) -> np.ndarray:
    """Forecasts in the unit of the readings: row ``rows[i]`` ``(n, size)`` by model
    ``models[i]`` (``(n,)`` int64; ``coefficients`` ``(count, size)``), unscaled
    (``/ scale + shift``) and inverse-transformed (``transform``: :data:`TRANSFORM_CODES`;
    as :func:`~domain.forecasting.transforms.inverse_array`: NaN and values <= 0 give 0.0).
    A new array ``(n,)``."""
    n, size = rows.shape
    out = np.empty(n)
    for i in range(n):
        x, w = rows[i], coefficients[models[i]]
        total = 0.0
        for j in range(size):
            if x[j] != 0.0:
                total += x[j] * w[j]
        value = total / scale + shift
        if transform != 0:
            value = value if value > 0.0 else 0.0  # NaN too
            value = value * value if transform == 1 else math.expm1(min(value, 700.0))
        out[i] = value
    return out
