"""The lag-feature model: direct multi-horizon online linear regression, one per horizon bucket.

Per reading the update path is O(1): lag features come from the ring buffer and its running
sums (no recompute); the reading's training rows and a forecast's rows are float matrices, each
built by one compiled call (:func:`~domain.forecasting.lag_kernels.pair_rows`; the layout and
calendar: :mod:`~domain.forecasting.lag_rows`); the bucket models (a
:class:`~domain.forecasting.regressors.RidgeBank`) learn the training rows in one compiled call
and forecast every step in another (:mod:`~domain.forecasting.lag_kernels`); lag models with the
same features share their rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from domain.forecasting.features import CalendarFeatures, HorizonBuckets, LagFeatures
from domain.forecasting.history import SlotHistory
from domain.forecasting.lag_kernels import TRANSFORM_CODES, pair_rows, predict_rows
from domain.forecasting.lag_rows import ANOMALY_KEYS, CalendarTable, LagLayout, SharedRows, bucket_array, regressor_key
from domain.forecasting.models import ListForecast, Regressors
from domain.forecasting.profile import WeeklyProfile
from domain.forecasting.regressors import RidgeBank
from domain.forecasting.transforms import TRANSFORMS, SeriesScaler, inverse_array

_NO_LEVELS = np.zeros(0)  # the weekly profile's levels of a lag model without one

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
        self._setup_caches()

    def _setup_caches(self) -> None:
        """What is derived from the state, never pickled: the calendar table and the geometry
        argument of :func:`~domain.forecasting.lag_kernels.pair_rows`."""
        lags, layout = self.lags, self.layout
        self._table = CalendarTable(self.calendar, layout, lags.day)
        self._geometry = np.array((layout.size, lags.hour, lags.day, lags.week, lags.max_horizon, layout.origin.start,
                                   layout.target_lags.start, layout.wp, layout.wpo, layout.anomaly, layout.holiday),
                                  dtype=np.int64)  # fmt: skip

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_table"], state["_geometry"]  # caches
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._setup_caches()

    def reset(self) -> None:
        if self.own is not None:
            self.own.clear()

    def _forward(self, value: float) -> float:
        return TRANSFORMS[self.transform][0](value)

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
        if self.own is not None:  # with a transform: the model's own history of transformed values
            value = self._forward(value)
            self.own.append(slot, value)
            history = self.own
        if not observed or history.first_slot is None:
            return
        scaler = self.scaler
        scaler.learn(value)
        if regressors:
            self._learn_regressors(regressors)
        y = (value - scaler.shift) * scaler.scale
        regressor_rows = None if regressors is None else (regressors,)
        what = ("learn", slot, history.first_slot, self.train_every, self.buckets.upper)
        trained, rows = self._rows(
            history, what, regressor_rows, lambda: self._training_sample(history, slot, regressor_rows)
        )
        if len(trained):
            self._learn_rows(trained, rows, y)

    def _training_sample(
        self, history: SlotHistory, slot: int, regressors: tuple[Regressors] | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The buckets that learn the reading at ``slot`` (int64) and their training rows: for
        each, the row of the origin :meth:`HorizonBuckets.training_step` picks, if in the history."""
        first, step = history.first_slot, self.buckets.training_step
        trained, origins = [], []
        for bucket in self._buckets_to_train(slot):
            origin = slot - step(bucket, slot)
            if origin >= first:
                trained.append(bucket)
                origins.append(origin)
        if not trained:
            return bucket_array(()), np.zeros((0, self.layout.size))
        return bucket_array(tuple(trained)), self._training_rows(history, tuple(origins), slot, regressors)

    def _learn_rows(self, trained: np.ndarray, rows: np.ndarray, y: float) -> None:
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
        span = (targets.start, targets.stop, targets.step) if isinstance(targets, range) else tuple(targets)
        steps, rows = self._rows(
            history, (origin, span), regressors, lambda: self._forecast_sample(history, origin, targets, regressors)
        )
        scaler = self.scaler
        if self.bank is not None:  # one compiled call: each row by its bucket's model, unscaled
            code = TRANSFORM_CODES[self.transform]
            return predict_rows(rows, self.bank.coefficients, steps, scaler.shift, scaler.scale, code)
        models, as_dict = self.models, self.layout.as_dict
        scaled = np.array([models[b].predict_one(as_dict(x)) for b, x in zip(steps, rows, strict=True)])
        scaled /= scaler.scale
        scaled += scaler.shift
        return inverse_array(self.transform, scaled)

    def _forecast_sample(
        self, history: SlotHistory, origin: int, targets: Sequence[int], regressors: Sequence[Regressors | None] | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The bucket of each target (int64) and the targets' rows."""
        if isinstance(targets, range) and targets.step == 1:
            steps = self.buckets.buckets_of(targets.start - origin, len(targets))
        else:
            steps = tuple(self.buckets.bucket_of(target - origin) for target in targets)
        return bucket_array(steps), self._forecast_rows(history, origin, targets, regressors)

    def _rows(
        self, history: SlotHistory, what: tuple, regressors: Sequence[Regressors | None] | None, make: Callable[[], Any]
    ) -> Any:
        """``make()`` (a reading's training sample or a forecast's rows, identified by ``what``),
        shared with the lag models of the same features: computed once per reading and forecast
        (:class:`SharedRows`), keyed by everything the rows depend on; read-only."""
        scaler, scalers = self.scaler, self.regressor_scalers
        known = tuple((name, slot, sc.shift, sc.scale) for name, (slot, sc) in scalers.items()) if scalers else ()
        key = (self.transform, self.anomaly_by_hour, history.last_slot, what, scaler.shift, scaler.scale,
               regressor_key(regressors), known)  # fmt: skip
        return self.shared.get(key, make)

    def _training_rows(
        self, history: SlotHistory, origins: tuple[int, ...], target: int, regressors: tuple[Regressors] | None
    ) -> np.ndarray:
        """A row per origin for the one ``target``."""
        pairs = np.array(origins, dtype=np.int64), np.array((target,), dtype=np.int64)
        rows = self._pair_rows(history, *pairs, min(origins), target)
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
        """A row per target from the one ``origin``."""
        if isinstance(targets, range) and targets.step > 0:
            slots, last = np.arange(targets.start, targets.stop, targets.step, dtype=np.int64), targets[-1]
        else:
            slots, last = np.array(targets, dtype=np.int64), max(targets)
        rows = self._pair_rows(history, np.array((origin,), dtype=np.int64), slots, origin, last)
        if regressors:
            self._add_regressors(rows, regressors)
        return rows

    def _pair_rows(
        self, history: SlotHistory, origins: np.ndarray, targets: np.ndarray, first: int, last: int
    ) -> np.ndarray:
        """:func:`~domain.forecasting.lag_kernels.pair_rows` of the ``(origins[i], targets[i])``
        (either of length 1: the same for all); ``first``: the first origin, ``last``: the last
        target."""
        table, scaler = self._table, self.scaler
        start = table.cover(first - self.lags.week, last)  # the similar days: up to a week before an origin
        levels = _NO_LEVELS if self.profile is None else self.profile.level_array
        return pair_rows(origins, targets, history.ring, history.running_sums, history.first_slot,
                         history.last_slot, start, table.facts, levels,
                         TRANSFORM_CODES[self.transform], scaler.shift, scaler.scale, self._geometry)  # fmt: skip

    def _add_regressors(self, rows: np.ndarray, regressors: Sequence[Regressors | None]) -> None:
        """The known regressors of each target, scaled, into their ``r`` slots."""
        scalers, first = self.regressor_scalers, self.layout.regressor
        for row, target_regressors in zip(rows, regressors, strict=True):
            if target_regressors:
                for key, value in target_regressors.items():
                    known = scalers.get(key)
                    if known is not None:
                        row[first + int(known[0][1:])] = (value - known[1].shift) * known[1].scale
