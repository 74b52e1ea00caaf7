"""One sensor's online forecaster: readings in (time order), forecasts out. Pure, no I/O.

A stream processor feeds every reading of a sensor to :meth:`SensorForecaster.observe` (or
:meth:`~SensorForecaster.learn`) in log order, emits the forecast it returns on the cadence,
and checkpoints :meth:`~SensorForecaster.to_state` together with its log position. Replaying
the same readings from scratch, or restoring a checkpoint and continuing, gives identical
forecasts: every model is deterministic (no random initialisation) and its state is pickled.

Values are in the unit of the readings (power in kW, say: consumption positive, production
negative, USEF); the forecaster never converts units.
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import NamedTuple

import numpy as np

from domain.forecasting.config import (  # noqa: F401 - re-exported: the forecaster's public names
    COMBINE_MODES,
    DEFAULT_MODELS,
    MODEL_FACTORIES,
    ForecasterConfig,
    ModelParts,
)
from domain.forecasting.ensemble import ENSEMBLE, combine, table_weights_of
from domain.forecasting.ensemble_kernels import clip_rows, nan_bounds
from domain.forecasting.features import (
    DAY,
    EPOCH,
    CalendarFeatures,
    HorizonBuckets,
    LagFeatures,
    slot_start,
    steps_in,
    to_slot,
)
from domain.forecasting.forecast import BucketWeights, Forecast, ModelValues
from domain.forecasting.history import SlotHistory
from domain.forecasting.lag_model import SharedRows
from domain.forecasting.models import ForecastModel
from domain.forecasting.profile import WeeklyProfile
from domain.forecasting.selector import ModelSelector

STATE_VERSION = 6  # 5: numpy selector ring and error table, the history's known_since; 6: compiled kernels' state


class StepLayout(NamedTuple):
    """How a forecast of a given length lays out: its steps' horizon buckets (a tuple and an
    int array), the buckets it covers (label -> bucket, in order) and ``selected`` of an ensemble."""

    buckets: tuple[int, ...]
    bucket_array: np.ndarray
    labels: dict[str, int]
    served_by: tuple[str, ...]


class SensorForecaster:
    """Online forecaster of one sensor: ``learn``/``observe`` readings, ``forecast`` slots."""

    def __init__(self, config: ForecasterConfig | None = None) -> None:
        self.config = config = config or ForecasterConfig()
        res = config.resolution
        self.horizon_steps = steps_in(config.horizon, res)
        self._every_steps = steps_in(config.forecast_every, res)  # the forecast cadence in slots
        self.buckets = HorizonBuckets.from_edges(config.buckets, res)
        self.calendar = CalendarFeatures(config.timezone, config.country, res)
        lags = LagFeatures(res, max(self.horizon_steps, self.buckets.upper[-1]), self.calendar)
        self.profile = WeeklyProfile(self.calendar, config.profile_weeks, config.profile_quantile)
        parts = ModelParts(self.buckets, lags, self.calendar, self.profile, SharedRows())
        self.history = SlotHistory(lags.required_capacity(), lags.day, steps_in(config.max_gap, res))
        self.models: dict[str, ForecastModel] = {name: MODEL_FACTORIES[name](config, parts) for name in config.models}
        self.combined = config.combine == "ensemble"
        self.selector = ModelSelector(
            (*config.models, ENSEMBLE) if self.combined else config.models,
            self.buckets.labels,
            steps_in(config.selection_window, res),
            steps_in(DAY, res),
            config.selection_min_count,
            self.buckets.buckets_of(1, self.horizon_steps),
        )
        self._weights_scored = -1  # selector.scored when the ensemble weights below were computed
        self._weights_array = np.zeros((len(self.buckets.labels), len(config.models)))  # buckets x models
        self._step_layouts: dict[int, StepLayout] = {}
        self._bounds = nan_bounds(config.value_range)  # (low, high) of the clipping, NaN: none
        self.last_regressors: dict[str, float] = {}
        self.learned = 0
        self.ignored = 0

    # -- learning -------------------------------------------------------------------------

    def learn(self, event_start: datetime, value: float, regressors: Mapping[str, float] | None = None) -> bool:
        """Learn one reading (its slot's mean value); returns False if it was ignored.

        Readings must come in time order. A reading for a slot at or before the latest learned
        slot (duplicate, correction, out of order) and a non-finite value are ignored
        (counted in ``ignored``). ``regressors`` are other sensors' values for the same slot
        (e.g. ``{"temperature_c": 11.5}``; non-finite ones are dropped). ``event_start`` must be
        timezone-aware and is floored to the slot grid. Matured forecasts are scored first.
        """
        return self._learn_slot(to_slot(event_start, self.config.resolution), value, regressors)

    def _learn_slot(self, slot: int, value: float, regressors: Mapping[str, float] | None) -> bool:
        """:meth:`learn` of the reading of slot number ``slot``."""
        last = self.history.last_slot
        if (last is not None and slot <= last) or not math.isfinite(value):
            self.ignored += 1
            return False
        value = float(value)
        if regressors:
            regressors = {k: float(v) for k, v in regressors.items() if math.isfinite(v)}
        self.selector.score(slot, value)
        filled = self.history.append(slot, value)
        if last is not None and self.history.first_slot == slot:
            for model in self.models.values():
                model.reset()
        models = self.models.values()
        for missing, guess in filled:
            for model in models:
                model.learn_one(self.history, missing, guess, None, False)
        for model in models:
            model.learn_one(self.history, slot, value, regressors, True)
        self.profile.learn(slot, value)  # after the models: while learning, they see the past only
        if regressors:
            self.last_regressors.update(regressors)
        self.learned += 1
        return True

    def missed_forecast_times(self, event_start: datetime) -> list[datetime]:
        """Forecast times on the cadence that a reading at ``event_start`` skips over.

        When readings are missing, the cadence points after the latest learned slot and up to
        ``event_start`` (the end of the missing slot before it) got no forecast. Call this
        before learning the reading and forecast each of them from what is known (their
        horizons grow): a missing reading does not silence the forecaster. At most one
        horizon's worth of points is returned (older ones would forecast nothing new); none
        for a reading that would be ignored or that follows a gap longer than ``max_gap``.
        """
        res = self.config.resolution
        return [slot_start(s, res) for s in self._missed_slots(to_slot(event_start, res))]

    def _missed_slots(self, slot: int) -> range:
        """:meth:`missed_forecast_times` as slot numbers, for a reading of slot ``slot``."""
        last = self.history.last_slot
        if last is None or slot <= last + 1 or slot - last - 1 > self.history.max_gap:
            return range(0)
        every = self._every_steps
        first = -(-(last + 2) // every) * every  # last + 1 (the latest slot's end) was forecast when learned
        return range(first, min(slot, last + 1 + self.horizon_steps) + 1, every)

    def observe_all(
        self,
        event_start: datetime,
        value: float,
        regressors: Mapping[str, float] | None = None,
        future_for=None,
    ) -> list[Forecast] | None:
        """Learn a reading and make every forecast due: the missed ones first, then the regular one.

        Returns None when the reading was ignored (see :meth:`learn`), else the forecasts made
        (recorded for scoring), in time order. ``future_for(now_start)`` gives the future
        regressors of a forecast made at ``now_start`` (None: none). This is the service's path.
        """
        if not math.isfinite(value):
            self.ignored += 1
            return None
        res = self.config.resolution
        slot = to_slot(event_start, res)
        made = []
        for now_slot in self._missed_slots(slot):
            future = future_for(slot_start(now_slot, res)) if future_for is not None else None
            made.append(self._forecast_from(now_slot, self.horizon_steps, future, True))
        if not self._learn_slot(slot, value, regressors):
            return None
        now_slot = slot + 1
        if now_slot % self._every_steps == 0:
            future = future_for(slot_start(now_slot, res)) if future_for is not None else None
            made.append(self._forecast_from(now_slot, self.horizon_steps, future, True))
        return made

    def observe(
        self,
        event_start: datetime,
        value: float,
        regressors: Mapping[str, float] | None = None,
        future_regressors: Mapping[str, Sequence[float]] | None = None,
    ) -> Forecast | None:
        """Learn a reading; if its slot ends on the ``forecast_every`` grid, forecast the horizon.

        The forecast starts at the end of the reading's slot and is recorded for model
        selection (scored as its slots' readings arrive). Returns None off the cadence.
        """
        if not self.learn(event_start, value, regressors):
            return None
        now_slot = self.history.last_slot + 1
        if now_slot % self._every_steps:
            return None
        return self._forecast_from(now_slot, self.horizon_steps, future_regressors, True)

    # -- forecasting ----------------------------------------------------------------------

    def forecast(
        self,
        now_start: datetime,
        n_steps: int | None = None,
        future_regressors: Mapping[str, Sequence[float]] | None = None,
        record: bool = False,
    ) -> Forecast:
        """Forecast ``n_steps`` slots (default: the horizon) from ``now_start``.

        ``now_start`` must be after the latest learned slot (a later one means stale data: the
        horizons grow). ``future_regressors`` maps regressor name to one value per step
        (missing or short: its last learned value). ``record=True`` keeps the forecast for
        model selection; the default leaves the state untouched (ad-hoc API queries).
        """
        last = self.history.last_slot
        if last is None:
            raise ValueError("no readings learned yet")
        res = self.config.resolution
        now_slot = -(-(now_start - EPOCH) // res)  # the first slot starting at or after now_start
        if now_slot <= last:
            raise ValueError(f"now_start {now_start} is not after the latest learned slot {slot_start(last, res)}")
        steps = self.horizon_steps if n_steps is None else n_steps
        return self._forecast_from(now_slot, steps, future_regressors, record)

    def _forecast_from(
        self, now_slot: int, steps: int, future_regressors: Mapping[str, Sequence[float]] | None, record: bool
    ) -> Forecast:
        """:meth:`forecast` of ``steps`` slots from slot number ``now_slot`` (after the latest learned slot)."""
        history = self.history
        last = history.last_slot
        targets = range(now_slot, now_slot + steps)
        regs = self._future_regressors(steps, future_regressors)
        names = self.config.models
        n_models = len(names)
        # one row per model (config order), then the served values: what the selector records
        table = np.empty((n_models + 1, steps))
        for row, model in enumerate(self.models.values()):
            table[row] = model.forecast_array(history, last, targets, regs)
        layout = self._step_layout(steps)
        if self.combined:
            self._refresh_weights()
            combine(self._weights_array, layout.bucket_array, table, *self._bounds)
            selected = layout.served_by
            weights = BucketWeights(layout.labels, names, self._weights_array)
        else:
            selected, weights = self._serve_selected(layout.buckets, table), {}
        if record:
            self.selector.record(targets, layout.buckets, table if self.combined else table[:n_models])
        resolution = self.config.resolution
        return Forecast(
            slot_start(now_slot, resolution),
            resolution,
            tuple(table[n_models].tolist()),
            selected,
            ModelValues(names, table[:n_models]),
            weights,
        )

    def _serve_selected(self, step_buckets: tuple[int, ...], table: np.ndarray) -> tuple[str, ...]:
        """The models' rows of ``table`` clipped and, per step, the value of the model selected for
        its bucket into its last row; returns the selected models (``selected``)."""
        names = self.config.models
        n_models = len(names)
        clip_rows(table, 0, n_models, *self._bounds)
        chosen = {b: self.selector.choice(b) for b in set(step_buckets)}
        selected = tuple(chosen[b] for b in step_buckets)
        index = {name: i for i, name in enumerate(names)}
        rows = np.array([index[name] for name in selected], dtype=np.intp)
        table[n_models] = table[rows, np.arange(len(step_buckets))]
        return selected

    def _step_layout(self, steps: int) -> StepLayout:
        """The :class:`StepLayout` of a forecast of ``steps`` slots (cached per length)."""
        layout = self._step_layouts.get(steps)
        if layout is None:
            if len(self._step_layouts) >= 64:
                self._step_layouts.clear()
            # the bucket of a step is its horizon from the forecast time (now_start), as the API reads it
            buckets = self.buckets.buckets_of(1, steps)
            labels = self.buckets.labels
            layout = self._step_layouts[steps] = StepLayout(
                buckets,
                np.array(buckets, dtype=np.intp),
                {labels[b]: b for b in sorted(set(buckets))},
                (ENSEMBLE,) * steps,
            )
        return layout

    def _refresh_weights(self) -> None:
        """The ensemble weights of every bucket (a new array), recomputed when forecasts have
        matured since: forecasts keep the array they were served with."""
        if self._weights_scored == self.selector.scored:
            return
        config = self.config
        errors, counts = self.selector.errors.error_sums(len(config.models))
        self._weights_array = table_weights_of(
            errors,
            counts,
            config.selection_min_count,
            config.ensemble_power,
            config.ensemble_top,
        )
        self._weights_scored = self.selector.scored

    def bucket_weights(self, bucket: int) -> list[float]:
        """Ensemble weights of the configured models (in order) for horizon bucket ``bucket``."""
        self._refresh_weights()
        return self._weights_array[bucket].tolist()

    def _future_regressors(
        self, steps: int, future: Mapping[str, Sequence[float]] | None
    ) -> list[dict[str, float]] | None:
        if not self.last_regressors and not future:
            return None
        names = sorted(set(self.last_regressors) | set(future or {}))
        rows = []
        for k in range(steps):
            row = {}
            for name in names:
                series = (future or {}).get(name, ())
                value = series[k] if k < len(series) else self.last_regressors.get(name, math.nan)
                if value == value:
                    row[name] = float(value)
            rows.append(row)
        return rows

    # -- what the API shows ---------------------------------------------------------------

    def selection(self) -> dict[str, str]:
        """What serves each horizon bucket now: ``"ensemble"``, or the selected model's name."""
        if self.combined:
            return dict.fromkeys(self.buckets.labels, ENSEMBLE)
        return self.selector.choices()

    def running_errors(self) -> dict[str, dict[str, dict[str, float]]]:
        """Per bucket and model (and ``"ensemble"``): windowed ``one_minus_wape``, ``wape``,
        ``mae`` (reading unit), ``n`` (an int), and each model's ensemble ``weight``."""
        errors = self.selector.running_errors()
        if self.combined:
            for bucket, label in enumerate(self.buckets.labels):
                for name, weight in zip(self.config.models, self.bucket_weights(bucket), strict=True):
                    errors[label][name]["weight"] = weight
        return errors

    @property
    def latest_event_start(self) -> datetime | None:
        last = self.history.last_slot
        return None if last is None else slot_start(last, self.config.resolution)

    # -- checkpoints ----------------------------------------------------------------------

    def to_state(self) -> bytes:
        """All model state as bytes (pickle): checkpoint it with the log position it belongs to."""
        return pickle.dumps((STATE_VERSION, self), protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def from_state(cls, data: bytes) -> SensorForecaster:
        """Restore :meth:`to_state` output (trusted bytes only: this is pickle)."""
        version, forecaster = pickle.loads(data)  # noqa: S301 - own checkpoints only
        if version != STATE_VERSION or not isinstance(forecaster, cls):
            raise ValueError(f"unsupported forecaster state version {version}")
        return forecaster
