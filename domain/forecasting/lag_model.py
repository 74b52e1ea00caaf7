"""The lag-feature model: direct multi-horizon online linear regression, one per horizon bucket.

Per reading the update path is O(1): lag features come from the ring buffer (no recompute),
feature rows are float matrices built with vectorised look-ups (:mod:`~domain.forecasting.lag_rows`),
the bucket models (a :class:`~domain.forecasting.regressors.RidgeBank`) learn the reading's
training rows at once and forecast every step with one matrix product; lag models with the
same features share their rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from itertools import repeat
from typing import Any

import numpy as np

from domain.forecasting.features import CalendarFeatures, HorizonBuckets, LagFeatures
from domain.forecasting.history import SlotHistory
from domain.forecasting.lag_rows import (
    ANOMALY_KEYS,
    CalendarTable,
    HorizonPlan,
    LagLayout,
    SharedRows,
    horizon_plan,
    regressor_key,
    step_models,
)
from domain.forecasting.lag_kernels import TRANSFORM_CODES, predict_rows
from domain.forecasting.models import ListForecast, Regressors
from domain.forecasting.profile import WeeklyProfile
from domain.forecasting.regressors import RidgeBank
from domain.forecasting.transforms import TRANSFORMS, SeriesScaler, forward_array, inverse_array

__all__ = ["ANOMALY_KEYS", "TRANSFORMS", "LagRegression", "SeriesScaler", "SharedRows"]


class LagRegression(ListForecast):
    """Direct multi-horizon linear model on lag, rolling-mean, calendar and regressor features.

    One regressor per horizon bucket: by default (``make_regressor`` None) exact online ridge
    regression (alpha = beta = 1), which converges far faster than SGD on the sparse calendar
    one-hots, kept as one :class:`RidgeBank` over float rows; a ``make_regressor`` factory (a
    River regressor, e.g. :func:`~domain.forecasting.regressors.tree_regressor`) gets dict rows. The target and
    the value-like features (``LAG_KEYS``) share one :class:`SeriesScaler`; each regressor of
    another sensor (its value at the target slot) has its own and takes one of
    ``max_regressors`` reserved feature slots ``r0``, ``r1``, ... in order of first appearance
    (names sorted within a reading); further regressors are ignored. The one-hot calendar
    features of the target slot pass unscaled. With a ``profile``: ``wp`` (the weekly profile
    at the target) and ``wpo`` (at the origin); with ``anomaly_by_hour`` also ``a00``..``a23``:
    ``y0 - wpo`` in the slot of the target's local hour (how long today's surplus or shortfall
    lasts depends on the time of day). ``l1_delta``: see :meth:`_learn_rows`. The features
    and their columns: :class:`LagLayout`; the calendar facts of the rows (one-hots, similar
    days, the profile's week slots) come from ``calendar``, which ``lags`` and ``profile``
    are built on too.

    For a reading at slot ``s`` a bucket learns one sample: the features at origin ``s - h``
    for a step ``h`` of that bucket, hashed so that every horizon of the bucket and every time
    of day is covered. With ``train_every = n`` > 1 a reading trains only the buckets ``b``
    with ``b % n`` equal to a hash of ``s`` modulo ``n``: fewer updates per reading, for
    throughput on fine resolutions (``n`` = slots per hour gives every bucket about one update
    per hour of data).
    """

    def __init__(
        self,
        name: str,
        buckets: HorizonBuckets,
        lags: LagFeatures,
        calendar: CalendarFeatures,
        make_regressor: Callable[[], Any] | None = None,
        train_every: int = 1,
        max_regressors: int = 4,
        profile: WeeklyProfile | None = None,
        transform: str | None = None,
        l1_delta: float | None = None,
        anomaly_by_hour: bool = False,
        shared: SharedRows | None = None,
    ) -> None:
        self.name = name
        self.shared = shared or SharedRows()
        self.l1_delta = l1_delta
        self.buckets = buckets
        self.lags = lags
        self.calendar = calendar
        self.train_every = max(1, train_every)
        self.scaler = SeriesScaler(freeze_after=lags.week)
        self.max_regressors = max_regressors
        self.profile = profile
        if transform not in TRANSFORMS:
            raise ValueError(f"transform must be one of {sorted(TRANSFORMS, key=str)}")
        self.transform = transform
        # with a transform the model reads its own history of transformed values
        capacity = lags.required_capacity()
        self.own = None if transform is None else SlotHistory(capacity, lags.day, 10 * capacity)
        self.regressor_scalers: dict[str, tuple[str, SeriesScaler]] = {}
        self.anomaly_by_hour = anomaly_by_hour and profile is not None
        self.layout = LagLayout(calendar.keys(), profile is not None, self.anomaly_by_hour, max_regressors)
        if make_regressor is None:
            # one exact ridge per bucket over the layout's features, as arrays
            self.bank: RidgeBank | None = RidgeBank(len(buckets.upper), self.layout.size, alpha=1.0, beta=1.0)
            self.models: list[Any] = []
        else:
            self.bank = None
            self.models = [make_regressor() for _ in buckets.upper]
            zero = dict.fromkeys(self.layout.keys, 0.0)
            for model in self.models:
                # a zero sample leaves the fit unchanged, but fixes the feature order
                model.learn_one(zero, 0.0)
        self._table = self._calendar_table()
        self._origins: dict[Any, Any] = {}

    def _calendar_table(self) -> CalendarTable:
        days_back = -(-self.lags.max_horizon // self.lags.day)
        return CalendarTable(self.calendar, self.layout, self.lags.day, self.lags.hour, days_back)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_table"], state["_origins"]  # caches
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._table = self._calendar_table()
        self._origins = {}

    def reset(self) -> None:
        if self.own is not None:
            self.own.clear()

    def _forward(self, value: float) -> float:
        return TRANSFORMS[self.transform][0](value)

    def _profile_at(self, slot: int, fallback: float) -> float:
        """The weekly profile at ``slot``, transformed and scaled; ``fallback`` where it has none."""
        level = self.profile.value(slot)
        if level != level:
            return fallback
        if self.transform is not None:
            level = self._forward(level)
        return (level - self.scaler.shift) * self.scaler.scale

    def _learn_regressors(self, regressors: Regressors) -> None:
        scalers = self.regressor_scalers
        for key in sorted(regressors):
            known = scalers.get(key)
            if known is None:
                if len(scalers) >= self.max_regressors:
                    continue
                known = scalers[key] = (f"r{len(scalers)}", SeriesScaler(self.scaler.freeze_after))
            known[1].learn(regressors[key])

    def _buckets_to_train(self, slot: int) -> range | tuple[int, ...]:
        every = self.train_every
        if every == 1:
            return range(len(self.buckets.upper))
        turn = (((slot * 2654435761) & 0xFFFFFFFF) >> 12) % every
        return tuple(b for b in range(len(self.buckets.upper)) if b % every == turn)

    def learn_one(
        self, history: SlotHistory, slot: int, value: float, regressors: Regressors | None, observed: bool
    ) -> None:
        if self.own is not None:
            self.own.append(slot, self._forward(value))
            history = self.own
        if not observed or history.first_slot is None:
            return
        if self.transform is not None:
            value = self._forward(value)
        scaler = self.scaler
        scaler.learn(value)
        if regressors:
            self._learn_regressors(regressors)
        y = (value - scaler.shift) * scaler.scale
        first, step = history.first_slot, self.buckets.training_step
        trained, origins = [], []
        for bucket in self._buckets_to_train(slot):
            origin = slot - step(bucket, slot)
            if origin >= first:
                trained.append(bucket)
                origins.append(origin)
        if trained:
            rows = self._rows(history, tuple(origins), (slot,), None if regressors is None else (regressors,))
            self._learn_rows(trained, rows, y)

    def _learn_rows(self, trained: list[int], rows: np.ndarray, y: float) -> None:
        """Bucket ``trained[i]`` learns row ``rows[i]`` with target ``y``; with ``l1_delta`` by an
        online IRLS step towards the median (the loss of WAPE).

        Weighted least squares with weight ``w = 1 / max(|residual|, l1_delta)`` (the residual of
        the model before this update, in scaled units) approximates least absolute deviations;
        the weight enters as ``sqrt(w)`` times the features and the target.
        """
        delta = self.l1_delta
        if self.bank is not None:
            self.bank.learn(trained, rows, y, delta)
            return
        for bucket, row in zip(trained, rows, strict=True):
            x, target, model = self.layout.as_dict(row), y, self.models[bucket]
            if delta is not None:
                root = 1.0 / math.sqrt(max(abs(y - model.predict_one(x)), delta))
                x, target = {key: value * root for key, value in x.items()}, y * root
            model.learn_one(x, target)

    def predict_one(
        self, history: SlotHistory, origin: int, target: int, regressors: Regressors | None = None
    ) -> float:
        """Forecast of slot ``target`` from what is known up to slot ``origin``."""
        return self.forecast(history, origin, (target,), None if regressors is None else (regressors,))[0]

    def forecast_array(
        self,
        history: SlotHistory,
        origin: int,
        targets: Sequence[int],
        regressors: Sequence[Regressors | None] | None = None,
    ) -> np.ndarray:
        """Forecasts of the ``targets`` as a new numpy array; the features are computed once
        (:class:`SharedRows`)."""
        history = self.own if self.own is not None else history
        if isinstance(targets, range) and targets.step == 1:
            steps = self.buckets.buckets_of(targets.start - origin, len(targets))
        else:
            steps = tuple(self.buckets.bucket_of(target - origin) for target in targets)
        rows = self._rows(history, origin, targets, regressors)
        scaler = self.scaler
        if self.bank is not None:  # one compiled call: each row by its bucket's model, unscaled
            code = TRANSFORM_CODES[self.transform]
            return predict_rows(rows, self.bank.coefficients, step_models(steps), scaler.shift, scaler.scale, code)
        models, as_dict = self.models, self.layout.as_dict
        scaled = np.array([models[b].predict_one(as_dict(x)) for b, x in zip(steps, rows, strict=True)])
        scaled /= scaler.scale
        scaled += scaler.shift
        return inverse_array(self.transform, scaled)

    def _rows(
        self,
        history: SlotHistory,
        origins: int | tuple[int, ...],
        targets: Sequence[int],
        regressors: Sequence[Regressors | None] | None,
    ) -> np.ndarray:
        """Feature rows, columns as in :attr:`layout`, shared with the lag models of the same
        features: from one origin (an int) a row per target (forecasting; ``regressors``: None
        or one mapping per target), or for one target (``targets``: one slot) a row per origin
        (learning; ``regressors``: None or the target's mapping, in a 1-tuple)."""
        scaler, scalers = self.scaler, self.regressor_scalers
        known = tuple((name, slot, sc.shift, sc.scale) for name, (slot, sc) in scalers.items()) if scalers else ()
        span = (targets.start, targets.stop, targets.step) if isinstance(targets, range) else tuple(targets)
        key = (self.transform, self.anomaly_by_hour, history.last_slot, origins, span, scaler.shift, scaler.scale,
               regressor_key(regressors), known)  # fmt: skip
        if isinstance(origins, int):
            return self.shared.get(key, lambda: self._forecast_rows(history, origins, targets, regressors))
        return self.shared.get(key, lambda: self._training_rows(history, origins, targets[0], regressors))

    def _origin_values(self, history: SlotHistory, origin: int) -> tuple[list[float], float]:
        """The origin-only features (:data:`ORIGIN_KEYS`, then ``wpo`` with a profile), scaled,
        and the fallback level (unscaled)."""
        shift, scale = self.scaler.shift, self.scaler.scale
        values, level = self.lags.scaled_origin(self._origin_raw(history, origin), shift, shift, scale)
        if self.profile is not None:
            values.append(self._profile_at(origin, values[0]))
        return values, level

    def _origin_raw(self, history: SlotHistory, origin: int) -> tuple[float, ...]:
        """:meth:`LagFeatures.origin_raw`, kept for the origins up to ``max_horizon`` slots back
        (a reading trains on origins its forecasts had): they do not change while the history
        grows (see there); a restarted history starts a new cache."""
        cache = self._origins
        if cache.get("history") is not history or cache.get("first") != history.first_slot:
            cache.clear()
            cache["history"], cache["first"] = history, history.first_slot
        if history.last_slot - origin > self.lags.max_horizon:
            return self.lags.origin_raw(history, origin)
        found = cache.get(origin)
        if found is None:
            if len(cache) > 4 * self.lags.max_horizon:
                oldest = history.last_slot - self.lags.max_horizon
                for old in [key for key in cache if type(key) is int and key < oldest]:
                    del cache[old]
            found = cache[origin] = self.lags.origin_raw(history, origin)
        return found

    def _training_rows(
        self, history: SlotHistory, origins: tuple[int, ...], target: int, regressors: tuple[Regressors] | None
    ) -> np.ndarray:
        """A row per origin for the one ``target`` (a handful: scalar look-ups, one array)."""
        lags, layout, calendar, get = self.lags, self.layout, self.calendar, history.get
        shift, scale, day, week = self.scaler.shift, self.scaler.scale, lags.day, lags.week
        features, wanted, week_slot = calendar.slot_info(target)
        day_class = calendar.day_class
        week_ago = get(target - week)
        profile = math.nan if self.profile is None else self._profile_at(target, math.nan)
        dense, anomalies = [], []
        for origin in origins:
            values, level = self._origin_values(history, origin)
            horizon = target - origin
            first = candidate = target - day * -(-horizon // day)
            for _ in range(7):  # LagFeatures.similar_day
                if day_class(candidate) == wanted:
                    break
                candidate -= day
            else:
                candidate = target - week
            lagged = (get(first), week_ago if horizon <= week else math.nan, get(candidate))
            row = [horizon / lags.max_horizon, *values[: layout.origin.stop - 1]]
            row += [((v if v == v else level) - shift) * scale for v in lagged]
            if self.profile is not None:
                row += [profile if profile == profile else row[layout.target_lags.start + 1], values[-1]]  # or w1
                anomalies.append(values[0] - values[-1])
            dense.append(row)
        rows = np.zeros((len(origins), layout.size))
        rows[:, : layout.dense] = dense
        for key in features:
            rows[:, self._table.columns[key]] = 1.0
        if self.anomaly_by_hour:
            rows[:, layout.anomaly + (week_slot % day) // lags.hour] = anomalies
        if regressors:
            self._add_regressors(rows, regressors * len(origins))
        return rows

    def _forecast_rows(
        self,
        history: SlotHistory,
        origin: int,
        targets: Sequence[int],
        regressors: Sequence[Regressors | None] | None,
    ) -> np.ndarray:
        """A row per target from the one ``origin`` (vectorised look-ups)."""
        lags, layout, table = self.lags, self.layout, self._table
        shift, scale, week = self.scaler.shift, self.scaler.scale, lags.week
        values, level = self._origin_values(history, origin)
        if isinstance(targets, range) and targets.step == 1:
            plan = horizon_plan(targets.start - origin, len(targets), lags.day, week, lags.max_horizon, layout.size)
        else:
            plan = HorizonPlan(np.array(targets) - origin, lags.day, week, lags.max_horizon, layout.size)
        first = origin + plan.first_step
        start = table.cover(first - table.reach(plan.max_days_back), origin + plan.last_step)
        at = slice(first - start, first - start + plan.count) if plan.contiguous else plan.offsets + (first - start)
        lagged = plan.lag_offsets + origin  # d1, w1, and sd:
        table.similar_days(plan, at, out=lagged[2])
        raw = history.values_at(lagged, origin - week, origin)
        if plan.beyond_week is not None:
            raw[1, plan.beyond_week] = math.nan
        if math.isnan(np.add.reduce(raw, axis=None)):  # unknown values: the fallback level
            raw = np.where(raw == raw, raw, level)
        raw -= shift
        rows = plan.template.copy()  # hzn set
        lagged_columns = rows[:, layout.target_lags].T
        np.multiply(raw, scale, out=lagged_columns)
        rows[:, layout.origin] = values[: layout.origin.stop - 1]
        if self.profile is None:
            rows.put(table.onehots[at] + plan.row_starts, 1.0)
        else:
            rows[:, layout.wpo] = wpo = values[-1]
            get = self.profile.levels.get
            profile = np.fromiter(map(get, table.week_slot[at].tolist(), repeat(math.nan)), float, plan.count)
            if self.transform is not None:  # NaN stays NaN
                profile = forward_array(self.transform, profile)
            profile -= shift
            profile *= scale
            if math.isnan(np.add.reduce(profile)):  # no profile yet: the fallback w1
                profile = np.where(profile == profile, profile, lagged_columns[1])
            rows[:, layout.wp] = profile
            ones = np.array((1.0, values[0] - wpo, 1.0) if self.anomaly_by_hour else (1.0,))  # CalendarTable.onehots
            rows.put(table.onehots[at] + plan.row_starts, ones)  # row by row
        if regressors:
            self._add_regressors(rows, regressors)
        return rows

    def _add_regressors(self, rows: np.ndarray, regressors: Sequence[Regressors | None]) -> None:
        """The known regressors of each target, scaled, into their ``r`` slots."""
        scalers, first = self.regressor_scalers, self.layout.regressor
        for row, target_regressors in zip(rows, regressors, strict=True):
            if target_regressors:
                for key, value in target_regressors.items():
                    known = scalers.get(key)
                    if known is not None:
                        row[first + int(known[0][1:])] = (value - known[1].shift) * known[1].scale
