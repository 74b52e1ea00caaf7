"""How a sensor's forecaster is set up: :class:`ForecasterConfig` and the explicit table of the
models a config can name (:data:`MODEL_FACTORIES`). Pure, no I/O.

Values are in the unit of the readings (consumption positive, production negative, USEF).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from domain.forecasting.features import (
    DAY,
    HOUR,
    WEEK,
    CalendarFeatures,
    HorizonBuckets,
    LagFeatures,
    steps_in,
)
from domain.forecasting.lag_model import LagRegression, SharedRows
from domain.forecasting.models import ForecastModel, HoltWintersModel, SeasonalNaive
from domain.forecasting.profile import WeeklyProfile, WeeklyProfileModel
from domain.forecasting.regressors import tree_regressor

DEFAULT_MODELS = ("naive_day", "naive_week", "weekly_profile", "lag_linear", "lag_median", "holt_winters")
MEDIAN_DELTA = 0.3
"""``l1_delta`` of ``lag_median``: residuals below 0.3 standard deviations weigh alike."""
COMBINE_MODES = ("ensemble", "select")


@dataclass(frozen=True, slots=True)
class ForecasterConfig:
    """Settings of one sensor's forecaster.

    - ``resolution``: the sensor's slot length (must divide a day); readings are slot means.
    - ``timezone`` (IANA name) and ``country`` (ISO code for public holidays, None: none): the
      calendar features (hour of day x workday/weekend-or-holiday, similar days).
    - ``horizon``: how far :meth:`SensorForecaster.observe` forecasts, every ``forecast_every``
      of data (on the UTC grid of that period).
    - ``buckets``: horizon-bucket edges, for the lag model's per-bucket models and for selection.
    - ``selection_window``: matured forecasts the selection looks at, in whole days of targets
      (14 days by default: with 7, the choice on the ACN data flips on week-to-week noise
      and serves worse); ``selection_min_count``: matured forecasts a model needs to compete.
    - ``max_gap``: a longer gap between readings restarts the continuous-series state.
    - ``models``: names from :data:`MODEL_FACTORIES`, in tie-break order.
    - ``holt_winters_season`` and ``holt_winters_params`` (alpha, beta, gamma per slot).
    - ``value_range``: clip every forecast to physical bounds, in the readings' unit, e.g.
      ``(0.0, None)`` for a consumption-only load.
    - ``lag_train_every``: thins the lag model's updates (see :class:`LagRegression`); None:
      slots per hour, so each horizon bucket learns about once per hour of data.
    - ``combine``: ``"ensemble"`` serves, per horizon bucket, the mean of the models weighted
      by their recent error (:mod:`~domain.forecasting.ensemble`: ``ensemble_power``,
      ``ensemble_top``); ``"select"`` serves the single model with the best running 1-WAPE.
    - ``profile_weeks`` and ``profile_quantile``: the weekly profile (model and lag feature);
      10 weeks measured +0.001-0.012 1-WAPE at 6-48 h over 6 (most on the single household car).
    - ``lag_transform``: the lag model learns ``"sqrt"`` of the values (spiky loads), ``"none"``,
      or ``"auto"``: the square root when ``value_range`` bounds the values below by 0.
    - ``lag_anomaly_by_hour``: the lag model also sees the origin's anomaly (last value minus
      its weekly profile) per local hour of the target (measured: +0.001-0.004 1-WAPE at 1 h
      on the ACN data, neutral beyond).
    - ``lag_l1_delta``: None, or ``lag_linear`` learns by online IRLS towards least absolute
      deviations (see :class:`~domain.forecasting.lag_model.LagRegression`). The model
      ``lag_median`` is that model (at :data:`MEDIAN_DELTA`) beside the least-squares one: on
      its own it wins on a single household's car (+0.02-0.04 1-WAPE) and loses on Trondheim
      (-0.01 at 1 h), so the ensemble weighs the two per horizon bucket.
    """

    resolution: timedelta = timedelta(minutes=15)
    timezone: str = "UTC"
    country: str | None = "NL"
    horizon: timedelta = timedelta(hours=48)
    forecast_every: timedelta = HOUR
    buckets: tuple[timedelta, ...] = (HOUR, 6 * HOUR, DAY, 2 * DAY)
    selection_window: timedelta = 2 * WEEK
    selection_min_count: int = 1
    max_gap: timedelta = WEEK
    models: tuple[str, ...] = DEFAULT_MODELS
    holt_winters_season: timedelta = WEEK
    holt_winters_params: tuple[float, float, float] = (0.01, 0.0001, 0.3)
    value_range: tuple[float | None, float | None] = (None, None)
    lag_train_every: int | None = None
    combine: str = "ensemble"
    ensemble_power: float = 16.0
    ensemble_top: int = 3
    profile_weeks: int = 10
    profile_quantile: float = 0.5
    lag_transform: str = "auto"
    lag_l1_delta: float | None = None
    lag_anomaly_by_hour: bool = True

    def __post_init__(self) -> None:
        if self.resolution <= timedelta(0) or DAY % self.resolution:
            raise ValueError("resolution must divide one day")
        if self.horizon < self.resolution:
            raise ValueError("horizon must be at least one slot")
        if self.forecast_every < self.resolution or self.forecast_every % self.resolution:
            raise ValueError("forecast_every must be a positive multiple of resolution")
        if self.holt_winters_season < self.resolution or self.selection_window < DAY:
            raise ValueError("holt_winters_season must be at least one slot, selection_window a day")
        low, high = self.value_range
        if low is not None and high is not None and low > high:
            raise ValueError("value_range: the minimum must not exceed the maximum")
        if self.combine not in COMBINE_MODES:
            raise ValueError(f"combine must be one of {COMBINE_MODES}")
        unknown = set(self.models) - set(MODEL_FACTORIES)
        if unknown or not self.models:
            raise ValueError(f"unknown models {sorted(unknown)}; known: {sorted(MODEL_FACTORIES)}")


def _naive_day(config: ForecasterConfig, parts: ModelParts) -> ForecastModel:
    return SeasonalNaive("naive_day", parts.lags.day, parts.lags.day)


def _naive_week(config: ForecasterConfig, parts: ModelParts) -> ForecastModel:
    return SeasonalNaive("naive_week", parts.lags.week, parts.lags.day)


def _lag_model(name: str, l1_delta: float | None | str = "config", make_regressor=None):
    """Factory of a :class:`LagRegression` model called ``name``: the same features and transform,
    differing only in ``l1_delta`` (``"config"``: the config's ``lag_l1_delta``) and regressor."""

    def build(config: ForecasterConfig, parts: ModelParts) -> ForecastModel:
        extra = {} if make_regressor is None else {"make_regressor": make_regressor}
        return LagRegression(
            name,
            parts.buckets,
            parts.lags,
            parts.calendar,
            train_every=config.lag_train_every or steps_in(HOUR, config.resolution),
            profile=parts.profile,
            transform=_transform(config),
            l1_delta=config.lag_l1_delta if l1_delta == "config" else l1_delta,
            anomaly_by_hour=config.lag_anomaly_by_hour,
            shared=parts.rows,
            **extra,
        )

    return build


def _transform(config: ForecasterConfig) -> str | None:
    """``lag_transform`` "auto": the square root for a series bounded below by 0, else none."""
    if config.lag_transform == "auto":
        low = config.value_range[0]
        return "sqrt" if low is not None and low >= 0.0 else None
    return None if config.lag_transform == "none" else config.lag_transform


def _weekly_profile(config: ForecasterConfig, parts: ModelParts) -> ForecastModel:
    return WeeklyProfileModel("weekly_profile", parts.profile, parts.lags.day)


def _holt_winters(config: ForecasterConfig, parts: ModelParts) -> ForecastModel:
    season = steps_in(config.holt_winters_season, config.resolution)
    alpha, beta, gamma = config.holt_winters_params
    return HoltWintersModel("holt_winters", season, parts.lags.day, alpha, beta, gamma)


@dataclass(frozen=True, slots=True)
class ModelParts:
    buckets: HorizonBuckets
    lags: LagFeatures
    calendar: CalendarFeatures
    profile: WeeklyProfile
    rows: SharedRows


MODEL_FACTORIES = {
    "naive_day": _naive_day,
    "naive_week": _naive_week,
    "weekly_profile": _weekly_profile,
    "lag_linear": _lag_model("lag_linear"),
    # the lag model learning towards the median (online IRLS): the loss of WAPE, for spiky loads
    "lag_median": _lag_model("lag_median", l1_delta=MEDIAN_DELTA),
    "lag_tree": _lag_model("lag_tree", l1_delta=None, make_regressor=tree_regressor),
    "holt_winters": _holt_winters,
}
"""Model name -> factory: the explicit table of the models a config can name."""
