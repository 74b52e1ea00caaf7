"""The lag-feature model: direct multi-horizon online linear regression, one per horizon bucket.

Per reading the update path is O(1): lag features come from the ring buffer (no recompute),
the calendar features of the reading's slot are computed once (cached), and each bucket
model does at most one ``learn_one``; lag models with the same features share their rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from river import stats

from domain.forecasting.features import LAG_KEYS, CalendarFeatures, HorizonBuckets, LagFeatures
from domain.forecasting.history import SlotHistory
from domain.forecasting.models import Regressors
from domain.forecasting.profile import WeeklyProfile
from domain.forecasting.regressors import bayesian_regressor, predict_rows

ANOMALY_KEYS = tuple(f"a{h:02d}" for h in range(24))
"""The origin's anomaly (last value minus its weekly profile) per local hour of the target."""


class SeriesScaler:
    """Running mean and standard deviation (River ``stats.Var``) that freeze once settled.

    It learns from the first ``freeze_after`` values (and on, while the deviation is still 0),
    then stays fixed, so the scaled features a model has accumulated keep one meaning.
    """

    __slots__ = ("var", "freeze_after", "shift", "scale", "frozen")

    def __init__(self, freeze_after: int) -> None:
        self.var = stats.Var()
        self.freeze_after = freeze_after
        self.shift = 0.0
        self.scale = 1.0
        self.frozen = False

    def learn(self, value: float) -> None:
        if self.frozen:
            return
        self.var.update(value)
        std = math.sqrt(self.var.get()) if self.var.n > 1 else 0.0
        self.shift = self.var.mean.get()
        self.scale = 1.0 / std if std > 0.0 else 1.0
        self.frozen = self.var.n >= self.freeze_after and std > 0.0

    def __getstate__(self) -> tuple[Any, ...]:
        return self.var, self.freeze_after, self.shift, self.scale, self.frozen

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self.var, self.freeze_after, self.shift, self.scale, self.frozen = state


def _sqrt(value: float) -> float:
    return math.sqrt(value) if value > 0.0 else 0.0


def _square(value: float) -> float:
    return value * value if value > 0.0 else 0.0


def _identity(value: float) -> float:
    return value


def _log1p(value: float) -> float:
    return math.log1p(value) if value > 0.0 else 0.0


def _expm1(value: float) -> float:
    return math.expm1(min(value, 700.0)) if value > 0.0 else 0.0


TRANSFORMS = {None: (_identity, _identity), "sqrt": (_sqrt, _square), "log1p": (_log1p, _expm1)}
"""Value transforms of the lag model: name -> (forward, inverse). ``sqrt`` suits spiky loads >= 0."""


class SharedRows:
    """Feature rows the lag models computed lately, keyed by everything they depend on, so that
    lag models with the same features (``lag_linear`` and ``lag_median``: same transform, same
    values) compute them once per reading and forecast. Not model state: never pickled."""

    __slots__ = ("_rows",)

    def __init__(self) -> None:
        self._rows: dict[tuple, Any] = {}

    def get(self, key: tuple, make: Callable[[], Any]) -> Any:
        rows = self._rows.get(key)
        if rows is None:
            if len(self._rows) >= 16:
                self._rows.clear()
            rows = self._rows[key] = make()
        return rows

    def __reduce__(self) -> tuple:
        return (SharedRows, ())  # pickled empty


class LagRegression:
    """Direct multi-horizon linear model on lag, rolling-mean, calendar and regressor features.

    One regressor per horizon bucket (default :func:`bayesian_regressor`: exact online ridge,
    which converges far faster than SGD on the sparse calendar one-hots). The target and the
    value-like features (``LAG_KEYS``) share one :class:`SeriesScaler`; each regressor of
    another sensor (its value at the target slot) has its own and takes one of
    ``max_regressors`` reserved feature slots ``r0``, ``r1``, ... in order of first appearance
    (names sorted within a reading); further regressors are ignored. The one-hot calendar
    features of the target slot pass unscaled. With a ``profile``: ``wp`` (the weekly profile
    at the target) and ``wpo`` (at the origin); with ``anomaly_by_hour`` also ``a00``..``a23``:
    ``y0 - wpo`` in the slot of the target's local hour (how long today's surplus or shortfall
    lasts depends on the time of day). ``l1_delta``: see :meth:`_learn_sample`.

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
        make_regressor: Callable[[], Any] = bayesian_regressor,
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
        self.models = [make_regressor() for _ in buckets.upper]
        slots = [f"r{i}" for i in range(max_regressors)]
        extra = ["wp", "wpo"] if profile is not None else []
        self.anomaly_by_hour = anomaly_by_hour and profile is not None
        if self.anomaly_by_hour:
            extra += ANOMALY_KEYS
        self._slots_per_hour = lags.hour
        self._slots_per_day = lags.day
        zero = dict.fromkeys(["hzn", *LAG_KEYS, *extra, *calendar.keys(), *slots], 0.0)
        for model in self.models:
            # A zero sample leaves the fit unchanged, but makes the regressor size its matrices
            # once, in a fixed feature order (64 features by default).
            model.learn_one(zero, 0.0)

    def reset(self) -> None:
        if self.own is not None:
            self.own.clear()

    def _forward(self, value: float) -> float:
        return TRANSFORMS[self.transform][0](value)

    def _inverse(self, value: float) -> float:
        return TRANSFORMS[self.transform][1](value)

    def _features(
        self, history: SlotHistory, origin: int, target: int, regressors: Regressors | None
    ) -> dict[str, float]:
        scaler = self.scaler
        x = self.lags.at(history, origin, target - origin, scaler.shift, scaler.shift, scaler.scale)
        self._add_origin_profile(x, origin)
        self._add_target_only(x, target, regressors, x["w1"])
        return x

    def _profile_at(self, slot: int, fallback: float) -> float:
        """The weekly profile at ``slot``, transformed and scaled; ``fallback`` where it has none."""
        level = self.profile.value(slot)
        if level != level:
            return fallback
        if self.transform is not None:
            level = self._forward(level)
        return (level - self.scaler.shift) * self.scaler.scale

    def _add_origin_profile(self, x: dict[str, float], origin: int) -> None:
        """``wpo``: the profile at the origin, so that ``y0 - wpo`` (today's anomaly) can carry on."""
        if self.profile is not None:
            x["wpo"] = self._profile_at(origin, x["y0"])

    def _add_target_only(
        self, x: dict[str, float], target: int, regressors: Regressors | None, fallback: float
    ) -> None:
        if self.profile is not None:
            x["wp"] = self._profile_at(target, fallback)
        if regressors:
            scalers = self.regressor_scalers
            for key, value in regressors.items():
                known = scalers.get(key)
                if known is not None:
                    x[known[0]] = (value - known[1].shift) * known[1].scale
        x.update(self.calendar.of_slot(target))
        if self.anomaly_by_hour:
            hour = (self.calendar.week_slot(target) % self._slots_per_day) // self._slots_per_hour
            x[ANOMALY_KEYS[hour]] = x["y0"] - x["wpo"]

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
            return range(len(self.models))
        turn = (((slot * 2654435761) & 0xFFFFFFFF) >> 12) % every
        return tuple(b for b in range(len(self.models)) if b % every == turn)

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
        first = history.first_slot
        for bucket in self._buckets_to_train(slot):
            origin = slot - self.buckets.training_step(bucket, slot)
            if origin >= first:
                rows = self._rows(history, origin, (slot,), None if regressors is None else (regressors,))
                self._learn_sample(self.models[bucket], rows[0], y)

    def _learn_sample(self, model: Any, x: dict[str, float], y: float) -> None:
        """One update; with ``l1_delta`` an online IRLS step towards the median (the loss of WAPE).

        Weighted least squares with weight ``w = 1 / max(|residual|, l1_delta)`` (the residual of
        the model before this update, in scaled units) approximates least absolute deviations;
        the weight enters as ``sqrt(w)`` times the features and the target.
        """
        delta = self.l1_delta
        if delta is not None:
            root = 1.0 / math.sqrt(max(abs(y - model.predict_one(x)), delta))
            x = {key: value * root for key, value in x.items()}
            y *= root
        model.learn_one(x, y)

    def predict_one(
        self, history: SlotHistory, origin: int, target: int, regressors: Regressors | None = None
    ) -> float:
        """Forecast of slot ``target`` from what is known up to slot ``origin``."""
        history = self.own if self.own is not None else history
        model = self.models[self.buckets.bucket_of(target - origin)]
        scaled = model.predict_one(self._features(history, origin, target, regressors))
        scaler = self.scaler
        return self._inverse(scaled / scaler.scale + scaler.shift)

    def forecast(
        self,
        history: SlotHistory,
        origin: int,
        targets: Sequence[int],
        regressors: Sequence[Regressors | None] | None = None,
    ) -> list[float]:
        """Forecasts of the ``targets``; the features are computed once (:class:`SharedRows`)."""
        history = self.own if self.own is not None else history
        scaler, buckets, models = self.scaler, self.buckets, self.models
        rows = self._rows(history, origin, targets, regressors)
        if isinstance(targets, range) and targets.step == 1:
            steps = buckets.buckets_of(targets.start - origin, len(targets))
        else:
            steps = tuple(buckets.bucket_of(target - origin) for target in targets)
        scaled = predict_rows(models, steps, rows)
        out = [v / scaler.scale + scaler.shift for v in scaled]
        return out if self.transform is None else [self._inverse(v) for v in out]

    def _rows(
        self,
        history: SlotHistory,
        origin: int,
        targets: Sequence[int],
        regressors: Sequence[Regressors | None] | None,
    ) -> list[dict[str, float]]:
        """Feature rows of the ``targets`` from ``origin`` (``regressors``: None or one mapping
        per target), shared with the lag models of the same features."""
        scaler = self.scaler
        known = tuple((name, slot, sc.shift, sc.scale) for name, (slot, sc) in self.regressor_scalers.items())
        key = (self.transform, self.anomaly_by_hour, history.last_slot, origin, tuple(targets),
               scaler.shift, scaler.scale, _regressor_key(regressors), known)  # fmt: skip
        return self.shared.get(key, lambda: self._make_rows(history, origin, targets, regressors))

    def _make_rows(
        self,
        history: SlotHistory,
        origin: int,
        targets: Sequence[int],
        regressors: Sequence[Regressors | None] | None,
    ) -> list[dict[str, float]]:
        scaler, lags = self.scaler, self.lags
        shift, scale = scaler.shift, scaler.scale
        base, level = lags.at_origin(history, origin, shift, shift, scale)
        self._add_origin_profile(base, origin)
        regs = regressors or [None] * len(targets)
        if lags.calendar is self.calendar and (self.profile is None or self.profile.calendar is self.calendar):
            return self._rows_inline(history, origin, targets, regs, base, level)
        rows = []
        for target, target_regressors in zip(targets, regs, strict=True):
            x = dict(base)
            lags.add_target(x, history, origin, target, level, shift, scale)
            self._add_target_only(x, target, target_regressors, x["w1"])
            rows.append(x)
        return rows


    def _rows_inline(
        self, history: SlotHistory, origin: int, targets: Sequence[int], regs: Sequence[Regressors | None],
        base: dict[str, float], level: float,
    ) -> list[dict[str, float]]:
        """The loop of :meth:`_make_rows` with ``LagFeatures.add_target`` and :meth:`_add_target_only`
        inlined (one calendar look-up per target): the same keys in the same order, the same values."""
        shift, scale, lags, get = self.scaler.shift, self.scaler.scale, self.lags, history.get
        day, week, max_horizon, slot_info = lags.day, lags.week, lags.max_horizon, self.calendar.slot_info
        levels = None if self.profile is None else self.profile.levels
        forward = None if self.transform is None else TRANSFORMS[self.transform][0]
        anomaly = base["y0"] - base["wpo"] if self.anomaly_by_hour else None
        per_day, per_hour, scalers = self._slots_per_day, self._slots_per_hour, self.regressor_scalers
        rows = []
        for target, target_regressors in zip(targets, regs, strict=True):
            x = dict(base)
            horizon = target - origin
            features, wanted, week_slot = slot_info(target)
            candidate = target - day * -(-horizon // day)
            d1 = get(candidate)
            w1 = get(target - week) if horizon <= week else math.nan
            for _ in range(7):  # LagFeatures.similar_day
                if slot_info(candidate)[1] == wanted:
                    break
                candidate -= day
            else:
                candidate = target - week
            sd = get(candidate)
            x["d1"] = ((d1 if d1 == d1 else level) - shift) * scale
            x["w1"] = fallback = ((w1 if w1 == w1 else level) - shift) * scale
            x["sd"] = ((sd if sd == sd else level) - shift) * scale
            x["hzn"] = horizon / max_horizon
            if levels is not None:
                at = levels.get(week_slot, math.nan)
                x["wp"] = fallback if at != at else ((at if forward is None else forward(at)) - shift) * scale
            if target_regressors:
                for key, value in target_regressors.items():
                    known = scalers.get(key)
                    if known is not None:
                        x[known[0]] = (value - known[1].shift) * known[1].scale
            x.update(features)
            if anomaly is not None:
                x[ANOMALY_KEYS[(week_slot % per_day) // per_hour]] = anomaly
            rows.append(x)
        return rows


def _regressor_key(regressors: Sequence[Regressors | None] | None) -> tuple | None:
    if regressors is None:
        return None
    return tuple(None if r is None else tuple(sorted(r.items())) for r in regressors)
