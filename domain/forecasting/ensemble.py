"""Combining models instead of picking one: weights from each model's recent error. Pure.

Per horizon bucket, a model's weight is ``mae ** -power`` over the selection window (its
matured forecasts of that bucket), kept for the ``top`` models with the lowest MAE and
normalised to sum 1. Models with fewer than ``min_count`` matured forecasts get no weight,
unless no model has enough: then all weigh the same. Because the window slides, a model that
degrades (a regime change) loses its weight within the window. MAE (not WAPE) so that the
weights stay defined on windows whose actuals are all zero; within one bucket both rank alike.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from domain.forecasting.ensemble_kernels import clipped_weighted_mean, fast_weights
from domain.forecasting.metrics import ErrorTotals

ENSEMBLE = "ensemble"
"""The name under which the combined forecast is scored and served."""


def error_weights(totals: Sequence[ErrorTotals], min_count: int = 1, power: float = 2.0, top: int = 3) -> list[float]:
    """One weight per model (same order as ``totals``), summing to 1."""
    isfinite = math.isfinite
    maes = [t.mae if t.count >= min_count and isfinite(t.mae) else math.inf for t in totals]
    usable = sorted([(mae, i) for i, mae in enumerate(maes) if isfinite(mae)])[: max(1, top)]
    return _weights_of_usable(usable, len(maes), power)


def table_weights(
    abs_errors: Sequence[Sequence[float]], counts: Sequence[float], min_count: int = 1, power: float = 2.0, top: int = 3
) -> list[list[float]]:
    """:func:`error_weights` per bucket from windowed sums: ``abs_errors[b]`` (per model, in the
    readings' unit) over ``counts[b]`` matured forecasts (one count per bucket: its models are
    scored on the same targets)."""
    isfinite = math.isfinite
    top = max(1, top)
    weights = []
    for errors, count in zip(abs_errors, counts, strict=True):
        usable = []
        if count >= min_count and count:
            maes = [e / count for e in errors]
            usable = sorted([(mae, i) for i, mae in enumerate(maes) if isfinite(mae)])[:top]
        weights.append(_weights_of_usable(usable, len(errors), power))
    return weights


def table_weights_of(
    abs_errors: np.ndarray, counts: np.ndarray, min_count: int = 1, power: float = 2.0, top: int = 3
) -> np.ndarray:
    """:func:`table_weights` of numpy sums (buckets x models, and the count per bucket), as a new
    array (buckets x models): the buckets of the usual case in one compiled call
    (:func:`~domain.forecasting.ensemble_kernels.fast_weights`), any other by :func:`table_weights`."""
    weights = np.empty(abs_errors.shape)
    if fast_weights(abs_errors, counts, min_count, float(power), top, weights):
        for b in np.flatnonzero(np.isnan(weights).any(axis=1)).tolist():
            weights[b] = table_weights([abs_errors[b].tolist()], [float(counts[b])], min_count, power, top)[0]
    return weights


def _weights_of_usable(usable: list[tuple[float, int]], n: int, power: float) -> list[float]:
    """Weights of ``n`` models from the ``(mae, index)`` of the best usable ones, by MAE (then index)."""
    if n == 0:
        return []
    if not usable:
        return [1.0 / n] * n
    if usable[0][0] <= 0.0:  # a model without error: only the perfect ones count
        raw = [(i, 1.0) for mae, i in usable if mae <= 0.0]
    else:
        raw = [(i, mae**-power) for mae, i in usable]
    total = sum([r for _, r in raw])  # in MAE order
    weights = [0.0 / total] * n
    for i, r in raw:
        weights[i] = r / total
    return weights


def combine(weights: np.ndarray, row_of_step: np.ndarray, table: np.ndarray, low: float, high: float) -> None:
    """The ensemble's values into the last row of ``table`` (models + 1 rows, one column per step).

    First the models' rows are clipped to ``[low, high]`` (NaN: no bound; a NaN value becomes
    the bound), then the last row becomes, per step ``k``, their mean weighted by
    ``weights[row_of_step[k]]`` (one weight per model), clipped as well. Models of weight 0
    are left out (their values may be anything); the products are added in model order, one
    model after the other. A left-out model adds 0 * its value: nothing, unless that value is
    not finite (every step is redone then, without it). One compiled call
    (:func:`~domain.forecasting.ensemble_kernels.clipped_weighted_mean`).
    """
    clipped_weighted_mean(weights, row_of_step, table, low, high)
