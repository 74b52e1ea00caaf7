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

from domain.forecasting.metrics import ErrorTotals

ENSEMBLE = "ensemble"
"""The name under which the combined forecast is scored and served."""


def error_weights(totals: Sequence[ErrorTotals], min_count: int = 1, power: float = 2.0, top: int = 3) -> list[float]:
    """One weight per model (same order as ``totals``), summing to 1."""
    maes = [t.mae if t.count >= min_count and math.isfinite(t.mae) else math.inf for t in totals]
    return _weights_of_maes(maes, power, top)


def table_weights(
    abs_errors: Sequence[Sequence[float]], counts: Sequence[int], min_count: int = 1, power: float = 2.0, top: int = 3
) -> list[list[float]]:
    """:func:`error_weights` per bucket from windowed sums: ``abs_errors[b]`` (per model, in the
    readings' unit) over ``counts[b]`` matured forecasts (one count per bucket: its models are
    scored on the same targets)."""
    weights = []
    for errors, count in zip(abs_errors, counts, strict=True):
        if count >= min_count and count:
            maes = [e / count for e in errors]
            maes = [mae if math.isfinite(mae) else math.inf for mae in maes]
        else:
            maes = [math.inf] * len(errors)
        weights.append(_weights_of_maes(maes, power, top))
    return weights


def _weights_of_maes(maes: list[float], power: float, top: int) -> list[float]:
    n = len(maes)
    if n == 0:
        return []
    usable = sorted((mae, i) for i, mae in enumerate(maes) if math.isfinite(mae))[: max(1, top)]
    if not usable:
        return [1.0 / n] * n
    if usable[0][0] <= 0.0:  # a model without error: only the perfect ones count
        raw = {i: 1.0 for mae, i in usable if mae <= 0.0}
    else:
        raw = {i: mae**-power for mae, i in usable}
    total = sum(raw.values())
    return [raw.get(i, 0.0) / total for i in range(n)]


def combine(step_weights: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    """Weighted mean per step: ``predictions[m, k]`` weighted by ``step_weights[m, k]`` (models x steps).

    Models of weight 0 are left out (their values may be anything); the products are added in
    model order, one model after the other (numpy reduces the leading axis row by row).
    """
    products = np.where(step_weights > 0.0, step_weights * predictions, 0.0)
    return np.add.reduce(products, axis=0)
