"""Per-horizon-bucket model selection on running 1-WAPE over matured forecasts.

Recorded forecasts wait per target slot until the reading of that slot arrives ("matures");
then each model's absolute error is added to its running window for the bucket the step
belongs to. The model serving a bucket is the one with the lowest windowed WAPE (highest
1-WAPE); when a window's actuals are all zero, the lowest MAE; ties and models without enough
matured forecasts fall back to the configured model order. Pure and deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import repeat
from operator import add, sub

from domain.forecasting.metrics import ErrorTotals, RunningWindowError


class ModelSelector:
    """Running errors per (bucket, model) and the current choice per bucket.

    ``window`` and ``bin_width`` are in slots of the target (e.g. 7 days and 1 hour);
    ``min_count`` is the number of matured forecasts a model needs in the window to compete.
    """

    def __init__(
        self,
        models: Sequence[str],
        bucket_labels: Sequence[str],
        window: int,
        bin_width: int,
        min_count: int = 1,
    ) -> None:
        self.models = tuple(models)
        self.bucket_labels = tuple(bucket_labels)
        self.min_count = min_count
        self.errors = [[RunningWindowError(window, bin_width) for _ in self.models] for _ in bucket_labels]
        self._pending: dict[int, list[tuple[int, tuple[float, ...]]]] = {}
        self._next_slot: int | None = None

    def record(self, targets: Sequence[int], buckets: Sequence[int], predictions: Sequence[Sequence[float]]) -> None:
        """Remember a forecast: per target slot its bucket and one prediction per model (in order)."""
        pending, next_slot = self._pending, self._next_slot
        per_target = zip(*predictions, strict=True)  # one tuple of the models' values per target
        for target, bucket, values in zip(targets, buckets, per_target, strict=True):
            if next_slot is not None and target < next_slot:
                continue
            entry = (bucket, tuple(map(float, values)))
            found = pending.get(target)
            if found is None:
                pending[target] = [entry]
            else:
                found.append(entry)

    def score(self, slot: int, actual: float) -> None:
        """The reading of ``slot`` arrived: score the forecasts for it, drop older unmatured ones."""
        pending = self._pending
        start = self._next_slot if self._next_slot is not None else min(pending, default=slot)
        if slot - start > 4 * len(pending) + 16:
            self._pending = pending = {t: e for t, e in pending.items() if t >= slot}
        else:
            for stale in range(start, slot):
                pending.pop(stale, None)
        self._next_slot = slot + 1
        matured = pending.pop(slot, ())
        if not matured:
            return
        # per bucket: the summed absolute errors of each model, added to its window at once
        sums: dict[int, list[float]] = {}
        counts: dict[int, int] = {}
        for bucket, values in matured:
            errors = sums.get(bucket)
            absolute = map(abs, map(sub, repeat(actual), values))  # abs(actual - p) per model
            if errors is None:
                sums[bucket] = list(absolute)
                counts[bucket] = 1
            else:
                sums[bucket] = list(map(add, errors, absolute))  # errors[i] + abs(actual - p), as before
                counts[bucket] += 1
        magnitude = abs(actual)
        for bucket, errors in sums.items():
            n = counts[bucket]
            for window, error in zip(self.errors[bucket], errors, strict=True):
                window.add_sums(slot, error, magnitude * n, n)

    def _rank(self, totals: ErrorTotals, order: int) -> tuple[int, float, float, int]:
        if totals.count < self.min_count:
            return (1, math.inf, math.inf, order)
        wape = totals.wape
        return (0, wape if wape == wape else math.inf, totals.mae, order)

    def choice(self, bucket: int) -> str:
        """Name of the model that serves ``bucket`` now."""
        ranks = [self._rank(window.totals(), i) for i, window in enumerate(self.errors[bucket])]
        return self.models[min(ranks)[3]]

    def totals(self, bucket: int, models: int | None = None) -> list[ErrorTotals]:
        """Windowed error totals of the first ``models`` models (default all) for ``bucket``."""
        row = self.errors[bucket]
        return [window.totals() for window in (row if models is None else row[:models])]

    def choices(self) -> dict[str, str]:
        """``{bucket label: model name}``, e.g. ``{"1h": "lag_linear", "48h": "naive_week"}``."""
        return {label: self.choice(b) for b, label in enumerate(self.bucket_labels)}

    def running_errors(self) -> dict[str, dict[str, dict[str, float]]]:
        """``{bucket label: {model: {"one_minus_wape", "wape", "mae", "n"}}}`` over the window."""
        return {
            label: {model: window.totals().as_dict() for model, window in zip(self.models, row, strict=True)}
            for label, row in zip(self.bucket_labels, self.errors, strict=True)
        }
