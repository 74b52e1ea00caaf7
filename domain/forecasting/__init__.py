"""Online forecasting of sensor time series (pure: readings in, forecasts out).

Entry point for stream processors: :class:`SensorForecaster` with a :class:`ForecasterConfig`.
Models (River, all learning online one reading at a time): seasonal naive (day, week), a
direct multi-horizon linear model on lag and calendar features, and Holt-Winters; the model
serving each horizon bucket is chosen on running 1-WAPE. See ``forecaster.py``.
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
