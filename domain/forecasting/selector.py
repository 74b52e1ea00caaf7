"""Per-horizon-bucket model selection on running 1-WAPE over matured forecasts.

Recorded forecasts wait until the reading of their target slot arrives ("matures"); then each
model's absolute error is added to its running window for the bucket the step belongs to. The
model serving a bucket is the one with the lowest windowed WAPE (highest 1-WAPE); when a
window's actuals are all zero, the lowest MAE; ties and models without enough matured
forecasts fall back to the configured model order. Pure and deterministic.

The forecaster's forecasts (consecutive target slots from step 1, the buckets of those steps,
at most ``step_buckets`` long) wait in a numpy ring, one row per forecast; when a slot's
reading arrives, the cell of every forecast covering it is gathered at once and summed per
bucket in the order the forecasts were made (as one would add them one by one). Any other
record (other buckets, longer, or two forecasts from the same first target) waits per target
in a dict and is added after those.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import repeat
from operator import add, sub

import numpy as np

from domain.forecasting.ensemble_kernels import full_slot_sums, store_forecast
from domain.forecasting.metrics import NO_BIN, ErrorTotals, WindowedErrorTable


class ModelSelector:
    """Running errors per (bucket, model) and the current choice per bucket.

    ``window`` and ``bin_width`` are in slots of the target (e.g. 7 days and 1 hour);
    ``min_count`` is the number of matured forecasts a model needs in the window to compete.
    ``step_buckets`` is the bucket of each forecast step (step 1 first), as the forecaster
    records them: such forecasts take the fast path (see the module docstring).
    """

    def __init__(
        self,
        models: Sequence[str],
        bucket_labels: Sequence[str],
        window: int,
        bin_width: int,
        min_count: int = 1,
        step_buckets: Sequence[int] = (),
    ) -> None:
        self.models = tuple(models)
        self.bucket_labels = tuple(bucket_labels)
        self.min_count = min_count
        self.errors = WindowedErrorTable(len(self.bucket_labels), len(self.models), window, bin_width)
        self.scored = 0  # matured slots so far: the errors change only when this does
        self._pending: dict[int, list[tuple[int, tuple[float, ...]]]] = {}
        self._next_slot: int | None = None
        self.step_buckets = tuple(step_buckets)
        depth = len(self.step_buckets)
        if any(b < a for a, b in zip(self.step_buckets, self.step_buckets[1:], strict=False)):
            raise ValueError("step_buckets must not decrease")
        self._ring = 2 * depth + 1  # forecasts start at most a horizon ahead: a live row is never overwritten
        self._values = np.zeros((self._ring, depth, len(self.models)))  # [row, step, model]
        self._first = np.full(self._ring, NO_BIN, dtype=np.int64)  # first target of the row's forecast
        self._length = np.zeros(self._ring, dtype=np.int64)
        self._steps = np.arange(depth)
        # firsts of an unbroken run of full-length forecasts, one per slot: when it covers a
        # matured slot, every cell of that slot is there (no per-cell check)
        self._streak = (0, -1)
        self._fast_buckets: Sequence[int] = self.step_buckets
        # the cells of a matured slot are summed from the oldest forecast (the largest step) on:
        # reversed, the steps' buckets run downwards; (bucket, first, end) of each run
        reversed_buckets = self.step_buckets[::-1]
        starts = [k for k, b in enumerate(reversed_buckets) if k == 0 or reversed_buckets[k - 1] != b]
        self._runs = [
            (reversed_buckets[a], a, b)
            for a, b in zip(starts, [*starts[1:], len(reversed_buckets)][: len(starts)], strict=True)
        ]
        self._run_table = np.array(self._runs, dtype=np.int64).reshape(-1, 3)  # _runs for the kernel
        self._errors = np.zeros((depth, len(self.models)))  # scratch of the full slot's errors
        self._sums = np.zeros((len(self.bucket_labels), len(self.models) + 2))  # scratch of score

    def record(self, targets: Sequence[int], buckets: Sequence[int], predictions: Sequence[Sequence[float]]) -> None:
        """Remember a forecast: per target slot its bucket and one prediction per model (in order).

        ``predictions`` is one sequence per model (or a 2-D array, models x targets).
        """
        n = len(targets)
        next_slot = self._next_slot
        depth = len(self.step_buckets)
        if (
            isinstance(targets, range)
            and targets.step == 1
            and 0 < n <= depth
            and (buckets is self._fast_buckets or tuple(buckets) == self.step_buckets[:n])
        ):
            first = targets.start
            # a row is free once every target of its forecast has passed
            passed = NO_BIN if next_slot is None else next_slot
            if store_forecast(
                self._values, self._first, self._length, first, passed, np.asarray(predictions, dtype=float)
            ):
                self._fast_buckets = buckets
                start, end = self._streak
                self._streak = ((start if first == end + 1 else first), first) if n == depth else (0, -1)
                return
        self._streak = (0, -1)
        pending = self._pending
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
        sums = self._sums  # per bucket: abs error per model, abs actual, count
        start, end = self._streak
        depth = len(self._steps)
        if depth and start <= slot - depth + 1 and slot <= end:  # every cell of the slot was recorded: no checks
            full_slot_sums(self._values, slot, actual, self._run_table, self._errors, sums)
            matured_any = True
        else:
            sums.fill(0.0)
            matured_any = self._score_ring(slot, actual, sums)
        matured = self._pop_pending(slot)
        if matured:
            self._score_pending(matured, actual, sums)
            matured_any = True
        if matured_any:
            self.errors.add(slot, sums)
            self.scored += 1

    def _score_ring(self, slot: int, actual: float, sums: np.ndarray) -> bool:
        """Adds the ring's cells for ``slot`` to ``sums`` (zeros); False if there were none."""
        if not len(self._steps):
            return False
        models = len(self.models)
        firsts = slot - self._steps  # the forecast whose step k targets the slot starts at slot - k
        rows = firsts % self._ring
        cells = (self._first[rows] == firsts) & (self._steps < self._length[rows])
        if not cells.any():
            return False
        errors = np.abs(actual - self._values[rows, self._steps])
        # the oldest forecast first (a copy: numpy would reduce a reversed view in memory order); + 0.0 is exact
        errors = np.where(cells[:, None], errors, 0.0)[::-1].copy()
        cells = cells[::-1]
        for bucket, first, end in self._runs:
            count = int(np.count_nonzero(cells[first:end]))
            if count:
                # reducing the leading axis adds row after row (reduceat would not: pairwise)
                sums[bucket, :models] = np.add.reduce(errors[first:end], axis=0)
                sums[bucket, models] = abs(actual) * count
                sums[bucket, models + 1] = count
        return True

    def _score_pending(self, matured: list[tuple[int, tuple[float, ...]]], actual: float, sums: np.ndarray) -> None:
        """Adds the dict's entries for the slot to ``sums``: per bucket, the models' summed errors."""
        models = len(self.models)
        extra: dict[int, list[float]] = {}
        counts: dict[int, int] = {}
        for bucket, values in matured:
            errors = extra.get(bucket)
            absolute = map(abs, map(sub, repeat(actual), values))  # abs(actual - p) per model
            if errors is None:
                extra[bucket] = list(absolute)
                counts[bucket] = 1
            else:
                extra[bucket] = list(map(add, errors, absolute))
                counts[bucket] += 1
        for bucket, errors in extra.items():
            n = counts[bucket]
            sums[bucket, :models] += errors
            sums[bucket, models] += abs(actual) * n
            sums[bucket, models + 1] += n

    def _pop_pending(self, slot: int) -> list[tuple[int, tuple[float, ...]]]:
        """The dict's entries for ``slot``; entries for earlier (never arrived) slots are dropped."""
        pending = self._pending
        start = self._next_slot if self._next_slot is not None else min(pending, default=slot)
        self._next_slot = slot + 1
        if not pending:
            return []
        if slot - start > 4 * len(pending) + 16:
            self._pending = pending = {t: e for t, e in pending.items() if t >= slot}
        else:
            for stale in range(start, slot):
                pending.pop(stale, None)
        return pending.pop(slot, [])

    def _rank(self, totals: ErrorTotals, order: int) -> tuple[int, float, float, int]:
        if totals.count < self.min_count:
            return (1, math.inf, math.inf, order)
        wape = totals.wape
        return (0, wape if wape == wape else math.inf, totals.mae, order)

    def choice(self, bucket: int) -> str:
        """Name of the model that serves ``bucket`` now."""
        ranks = [self._rank(totals, i) for i, totals in enumerate(self.errors.totals(bucket))]
        return self.models[min(ranks)[3]]

    def totals(self, bucket: int, models: int | None = None) -> list[ErrorTotals]:
        """Windowed error totals of the first ``models`` models (default all) for ``bucket``."""
        return self.errors.totals(bucket, models)

    def choices(self) -> dict[str, str]:
        """``{bucket label: model name}``, e.g. ``{"1h": "lag_linear", "48h": "naive_week"}``."""
        return {label: self.choice(b) for b, label in enumerate(self.bucket_labels)}

    def running_errors(self) -> dict[str, dict[str, dict[str, float]]]:
        """``{bucket label: {model: {"one_minus_wape", "wape", "mae", "n"}}}`` over the window."""
        return {
            label: {model: totals.as_dict() for model, totals in zip(self.models, self.errors.totals(b), strict=True)}
            for b, label in enumerate(self.bucket_labels)
        }

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        next_slot = self._next_slot if self._next_slot is not None else NO_BIN
        unscored = []  # per live row: its cells from the first target not scored yet on (the rest is never read)
        for row in np.flatnonzero((self._first != NO_BIN) & (self._first + self._length > next_slot)).tolist():
            skip = max(0, next_slot - int(self._first[row]))
            unscored.append((row, skip, self._values[row, skip : int(self._length[row])].copy()))
        state["_values"] = (self._values.shape, unscored)
        return state

    def __setstate__(self, state: dict) -> None:
        shape, unscored = state.pop("_values")
        self.__dict__.update(state)
        self._values = np.zeros(shape)
        for row, skip, values in unscored:
            self._values[row, skip : skip + len(values)] = values
