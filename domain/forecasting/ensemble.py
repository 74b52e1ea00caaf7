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
from operator import mul

from domain.forecasting.metrics import ErrorTotals

ENSEMBLE = "ensemble"
"""The name under which the combined forecast is scored and served."""


def error_weights(totals: Sequence[ErrorTotals], min_count: int = 1, power: float = 2.0, top: int = 3) -> list[float]:
    """One weight per model (same order as ``totals``), summing to 1."""
    n = len(totals)
    if n == 0:
        return []
    maes = [t.mae if t.count >= min_count and math.isfinite(t.mae) else math.inf for t in totals]
    usable = sorted((mae, i) for i, mae in enumerate(maes) if math.isfinite(mae))[: max(1, top)]
    if not usable:
        return [1.0 / n] * n
    if usable[0][0] <= 0.0:  # a model without error: only the perfect ones count
        raw = {i: 1.0 for mae, i in usable if mae <= 0.0}
    else:
        raw = {i: mae**-power for mae, i in usable}
    total = sum(raw.values())
    return [raw.get(i, 0.0) / total for i in range(n)]


def combine(weights: Sequence[float], predictions: Sequence[Sequence[float]], steps: Sequence[int]) -> list[float]:
    """Weighted mean per step: ``predictions[m][k]`` weighted by ``weights[m]``, for ``k`` in ``steps``."""
    used = [(w, p) for w, p in zip(weights, predictions, strict=True) if w > 0.0]
    used_weights = [w for w, _ in used]
    return [sum(map(mul, used_weights, [p[k] for _, p in used])) for k in steps]  # sum of w * p[k], in model order
