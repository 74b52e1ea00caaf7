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
        if count >= min_count and count:
            n = len(errors)
            maes = [e / count for e in errors]
            if isfinite(sum(maes)):  # (all finite: they are >= 0)
                usable = sorted(zip(maes, range(n), strict=True))[:top]
                if usable[0][0] > 0.0:  # the usual case, as _weights_of_usable does it
                    raw = [mae**-power for mae, _ in usable]
                    total = sum(raw)  # in MAE order
                    row = [0.0 / total] * n
                    for (_, i), r in zip(usable, raw, strict=True):
                        row[i] = r / total
                    weights.append(row)
                    continue
            else:
                usable = sorted([(mae, i) for i, mae in enumerate(maes) if isfinite(mae)])[:top]
        else:
            usable = []
        weights.append(_weights_of_usable(usable, len(errors), power))
    return weights


def table_weights_of(
    abs_errors: np.ndarray, counts: np.ndarray, min_count: int = 1, power: float = 2.0, top: int = 3
) -> list[list[float]]:
    """:func:`table_weights` of numpy sums (buckets x models, and the count per bucket), faster:
    the MAEs of all buckets in one division, and a bucket whose models are all usable, the best
    with an error above 0, ranked by index (a stable sort by MAE: ties in model order)."""
    n_models = abs_errors.shape[1]
    count_list = counts.tolist()
    if not n_models or not count_list or min(count_list) < max(1, min_count):
        return table_weights(abs_errors.tolist(), count_list, min_count, power, top)
    isfinite = math.isfinite
    top = max(1, top)
    weights = []
    for b, maes in enumerate((abs_errors / counts[:, None]).tolist()):
        if isfinite(sum(maes)):  # (all finite: they are >= 0)
            best = sorted(range(n_models), key=maes.__getitem__)[:top]
            if maes[best[0]] > 0.0:
                raw = [maes[i] ** -power for i in best]
                total = sum(raw)  # in MAE order
                row = [0.0 / total] * n_models
                for i, r in zip(best, raw, strict=True):
                    row[i] = r / total
                weights.append(row)
                continue
        weights.append(table_weights([abs_errors[b].tolist()], [counts[b]], min_count, power, top)[0])
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


def combine(step_weights: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    """Weighted mean per step: ``predictions[m, k]`` weighted by ``step_weights[m, k]`` (models x steps).

    Models of weight 0 are left out (their values may be anything); the products are added in
    model order, one model after the other (numpy reduces the leading axis row by row). A
    left-out model adds 0 * its value: nothing, unless that value is not finite (redone then).
    """
    values = np.add.reduce(step_weights * predictions, axis=0)
    if math.isfinite(np.add.reduce(values)):
        return values
    return np.add.reduce(np.where(step_weights > 0.0, step_weights * predictions, 0.0), axis=0)
