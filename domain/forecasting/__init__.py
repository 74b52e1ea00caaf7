"""Online forecasting of sensor time series (pure: readings in, forecasts out).

Entry point for stream processors: :class:`SensorForecaster` with a :class:`ForecasterConfig`.
Models (all learning online, one reading at a time): seasonal naive (day, week), the weekly
profile, direct multi-horizon linear models on lag, profile and calendar features (exact online
ridge: one least-squares, one towards the median), and River's Holt-Winters; per horizon bucket the forecast
served is their ensemble weighted by recent error (or the best model). See ``forecaster.py``.
"""

from domain.forecasting.forecaster import (
    DEFAULT_MODELS,
    MODEL_FACTORIES,
    Forecast,
    ForecasterConfig,
    SensorForecaster,
)
from domain.forecasting.metrics import ErrorTotals, RunningWindowError, mae, one_minus_wape, wape

__all__ = [
    "DEFAULT_MODELS",
    "MODEL_FACTORIES",
    "ErrorTotals",
    "Forecast",
    "ForecasterConfig",
    "RunningWindowError",
    "SensorForecaster",
    "mae",
    "one_minus_wape",
    "wape",
]
