"""Compiled kernels of the lag model (numba ``@njit``): the per-reading arithmetic of its ridge
bank and forecasts, each one call instead of many small numpy and BLAS calls.

Arrays are float64 and C-contiguous unless said otherwise; ``size`` is the number of feature
columns (:class:`~domain.forecasting.lag_rows.LagLayout`), ``count`` the number of bucket
models. Rows are mostly zeros (one-hot calendar and anomaly columns): the ridge kernel skips
zero entries, which leaves every sum as it would be over all columns. Fast-math is off but for
the dot products of the forecasts and of ``inverse @ x``, which may be summed in SIMD lanes
(reassociated): the order of the sums is fixed by the compiled code, so results are
deterministic on a machine; like the BLAS products they replace, the last bits may differ
between CPU types.

How they are compiled and cached: :mod:`domain.forecasting.compiled`.
"""

from __future__ import annotations

import math

import numpy as np

from domain.forecasting.compiled import compiled

TRANSFORM_CODES = {None: 0, "sqrt": 1, "log1p": 2}
"""The value transforms of :data:`~domain.forecasting.transforms.TRANSFORMS` as kernel arguments."""


def _compiled_reassociating(function):
    """:func:`~domain.forecasting.compiled.compiled`, and sums may be reassociated (vectorised)."""
    return compiled(function, fastmath={"reassoc"})


@_compiled_reassociating
def _symmetric_product(a: np.ndarray, x: np.ndarray, nonzero: np.ndarray, p: np.ndarray) -> None:
    """``p = a @ x`` into ``p`` ``(size,)``, for ``a`` ``(size, size)`` symmetric of which only
    the lower triangle is read, and ``x`` zero but at its ``nonzero`` columns (ascending).

    Column ``j`` of ``a`` is row ``j`` of the triangle up to the diagonal (contiguous), and
    below it ``a[i, j]``, ``i > j``: those are summed row by row, rows between two nonzero
    columns ``nonzero[k]`` and ``nonzero[k + 1]`` over the same ``k + 1`` columns (the leading
    run of columns ``0, 1, ...`` as one contiguous, vectorised sum)."""
    size, used = len(x), len(nonzero)
    lead = 0
    while lead < used and nonzero[lead] == lead:
        lead += 1
    p[:] = 0.0
    for k in range(used):
        j = nonzero[k]
        xj = x[j]
        for i in range(j):
            p[i] += a[j, i] * xj
        stop = nonzero[k + 1] if k + 1 < used else size
        run = min(lead, k + 1)
        for i in range(j, stop):
            total = 0.0
            for m in range(run):
                total += a[i, m] * x[m]
            for m in range(run, k + 1):
                total += a[i, nonzero[m]] * x[nonzero[m]]
            p[i] += total


@compiled
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


@_compiled_reassociating
def predict_rows(
    rows: np.ndarray, coefficients: np.ndarray, models: np.ndarray, shift: float, scale: float, transform: int
) -> np.ndarray:
    """Forecasts in the unit of the readings: row ``rows[i]`` ``(n, size)`` by model
    ``models[i]`` (``(n,)`` int64; ``coefficients`` ``(count, size)``), unscaled
    (``/ scale + shift``) and inverse-transformed (``transform``: :data:`TRANSFORM_CODES`;
    as :func:`~domain.forecasting.transforms.inverse_array`: NaN and values <= 0 give 0.0).
    A new array ``(n,)``. The dot products are summed in SIMD lanes (see the module)."""
    n, size = rows.shape
    out = np.empty(n)
    for i in range(n):
        x, w = rows[i], coefficients[models[i]]
        total = 0.0
        for j in range(size):
            total += x[j] * w[j]
        value = total / scale + shift
        if transform != 0:
            value = value if value > 0.0 else 0.0  # NaN too
            value = value * value if transform == 1 else math.expm1(min(value, 700.0))
        out[i] = value
    return out


@compiled
def _ring_value(ring: np.ndarray, base: int, last_slot: int, slot: int) -> float:
    """:meth:`~domain.forecasting.history.SlotHistory.get` on its ring (``SlotHistory.ring``):
    ``base`` is ``last_slot % capacity + capacity - last_slot``, so that a slot in the ring is
    at position ``base + slot`` of the doubled array (no division per look-up)."""
    if slot > last_slot or slot <= last_slot - len(ring) // 2:
        return math.nan
    return ring[base + slot]


@compiled
def _forward(transform: int, value: float) -> float:
    """The forward transform (:data:`TRANSFORM_CODES`) of a value; values <= 0 give 0.0, NaN stays NaN."""
    if transform == 0 or value != value:
        return value
    value = value if value > 0.0 else 0.0
    return math.sqrt(value) if transform == 1 else math.log1p(value)


@compiled
def _mean(sums: np.ndarray, first_slot: int, last_slot: int, end_slot: int, width: int) -> float:
    """:meth:`~domain.forecasting.history.SlotHistory.mean` on its ``running_sums``."""
    capacity = sums.shape[1]
    end = min(end_slot, last_slot)
    start = max(end - width, last_slot - capacity + 1, first_slot - 1)
    if end <= start:
        return math.nan
    count = sums[1, end % capacity] - sums[1, start % capacity]
    if count <= 0.0:
        return math.nan
    return (sums[0, end % capacity] - sums[0, start % capacity]) / count


@compiled
def _scale_origin(raw: np.ndarray, shift: float, scale: float, values: np.ndarray) -> float:
    """The origin's values ``raw`` (:data:`~domain.forecasting.features.ORIGIN_KEYS`) as
    ``(value - shift) * scale`` into ``values``, unknown ones at the origin's level (``m1d``,
    else ``m1w``, else ``shift``); returns that level (unscaled)."""
    level = raw[3] if raw[3] == raw[3] else (raw[4] if raw[4] == raw[4] else shift)
    for k in range(len(raw)):
        values[k] = ((raw[k] if raw[k] == raw[k] else level) - shift) * scale
    return level


@compiled
def _similar_day(day_class: np.ndarray, table_start: int, first: int, target: int, day: int, week: int) -> int:
    """:meth:`~domain.forecasting.features.LagFeatures.similar_day` of ``target`` whose first
    candidate is slot ``first``: the latest of it and the 6 days before of the target's day
    class (``day_class`` of a calendar table from ``table_start``), else a week before."""
    wanted = day_class[target - table_start]
    for back in range(7):
        if day_class[first - back * day - table_start] == wanted:
            return first - back * day
    return target - week


@compiled
def pair_rows(
    origins: np.ndarray,
    targets: np.ndarray,
    ring: np.ndarray,
    sums: np.ndarray,
    first_slot: int,
    last_slot: int,
    table_start: int,
    calendar: np.ndarray,
    levels: np.ndarray,
    transform: int,
    shift: float,
    scale: float,
    geometry: np.ndarray,
) -> np.ndarray:
    """The lag model's feature rows ``(n, size)`` (a new array) of the pairs ``(origins[i],
    targets[i])``: the features of :class:`~domain.forecasting.lag_rows.LagLayout` but the
    regressor slots (left 0), values as ``(value - shift) * scale``.

    ``origins`` and ``targets`` ``(n,)`` int64 slots, either of length 1 (the same for every
    pair). The values (transformed, unscaled): ``ring``, ``sums``, ``first_slot`` and
    ``last_slot`` of a :class:`~domain.forecasting.history.SlotHistory` (its ``ring`` and
    ``running_sums``). The calendar (:class:`~domain.forecasting.lag_rows.CalendarTable`, from
    slot ``table_start``; it must hold every origin and target, and 6 days before the first
    similar-day candidate of each target): ``calendar``, its ``facts`` ``(4, m)``.
    ``levels``: the weekly profile per week slot, untransformed, NaN where none (empty without
    a profile); ``transform``: :data:`TRANSFORM_CODES`. ``geometry`` int64: ``(size, hour,
    day, week, max_horizon, origin column, target-lag column, wp, wpo, anomaly, holiday)``
    (slots; columns of the layout, ``wp``, ``wpo`` and ``anomaly`` -1 without).

    The origin's values are :meth:`~domain.forecasting.features.LagFeatures.origin_raw`;
    unknown values fall back to the origin's level (``m1d``, else ``m1w``, else ``shift``),
    ``wp`` to ``w1``, ``wpo`` to ``y0``; with anomaly columns the anomaly ``y0 - wpo`` goes to
    the column of the target's local hour.
    """
    size, hour, day, week, max_horizon = geometry[0], geometry[1], geometry[2], geometry[3], geometry[4]
    origin_column, lag_column, wp, wpo = geometry[5], geometry[6], geometry[7], geometry[8]
    anomaly, holiday = geometry[9], geometry[10]
    hour_column, week_slot, day_class, is_holiday = calendar[0], calendar[1], calendar[2], calendar[3]
    count = len(targets) if len(origins) == 1 else len(origins)
    rows = np.zeros((count, size))
    raw = np.empty(7)  # the origin's values, as LagFeatures.origin_raw
    values = np.empty(8)  # the same scaled, then wpo
    level = shift
    capacity = len(ring) // 2
    base = last_slot % capacity + capacity - last_slot  # see _ring_value
    for i in range(count):
        origin = origins[i if len(origins) > 1 else 0]
        target = targets[i if len(targets) > 1 else 0]
        if i == 0 or len(origins) > 1:
            raw[0] = _ring_value(ring, base, last_slot, origin)
            raw[1] = _ring_value(ring, base, last_slot, origin - 1)
            raw[2] = _mean(sums, first_slot, last_slot, origin, hour)
            raw[3] = _mean(sums, first_slot, last_slot, origin, day)
            raw[4] = _mean(sums, first_slot, last_slot, origin, week)
            raw[5] = _ring_value(ring, base, last_slot, origin - day)
            raw[6] = _ring_value(ring, base, last_slot, origin - week)
            level = _scale_origin(raw, shift, scale, values)
            if wp >= 0:
                at_origin = _forward(transform, levels[week_slot[origin - table_start]])
                values[7] = values[0] if at_origin != at_origin else (at_origin - shift) * scale
        row = rows[i]
        horizon = target - origin
        days_back = -(-horizon // day)
        first = target - day * days_back
        at = target - table_start
        similar = _similar_day(day_class, table_start, first, target, day, week)
        d1 = _ring_value(ring, base, last_slot, first)
        w1 = _ring_value(ring, base, last_slot, target - week) if horizon <= week else math.nan
        sd = _ring_value(ring, base, last_slot, similar)
        row[0] = horizon / max_horizon
        for k in range(7):
            row[origin_column + k] = values[k]
        row[lag_column] = ((d1 if d1 == d1 else level) - shift) * scale
        row[lag_column + 1] = ((w1 if w1 == w1 else level) - shift) * scale
        row[lag_column + 2] = ((sd if sd == sd else level) - shift) * scale
        row[hour_column[at]] = 1.0
        if is_holiday[at]:
            row[holiday] = 1.0
        if wp >= 0:
            profile = _forward(transform, levels[week_slot[at]])
            row[wp] = row[lag_column + 1] if profile != profile else (profile - shift) * scale
            row[wpo] = values[7]
        if anomaly >= 0:
            row[anomaly + (week_slot[at] % day) // hour] = values[0] - values[7]
    return rows
