"""The configuration the service forecasts a sensor with (shared by the processor and the bench).

:func:`service_config` turns a sensor's registration, its ``forecasting`` settings and its
asset's type into a :class:`ForecasterConfig`. Keeping this in one place means the accuracy
bench measures exactly what the service runs (same value range, models and combination).
"""

from __future__ import annotations

from domain.forecast_events import ForecastSettings
from domain.forecasting.forecaster import ForecasterConfig
from domain.forecasting.value_range import ValueRange, default_value_range
from domain.registry import SensorRegistered


def service_value_range(settings: ForecastSettings, sensor: SensorRegistered, asset_type: str | None) -> ValueRange:
    """The range set in the attribute, else the one implied by the sensor and asset type."""
    if settings.value_range is not None:
        return settings.value_range
    return default_value_range(sensor.unit, sensor.name, asset_type)


def service_config(
    settings: ForecastSettings, sensor: SensorRegistered, asset_type: str | None = None
) -> ForecasterConfig:
    """The live forecaster's config for a sensor (raises ValueError when it cannot be forecast)."""
    extra = {"models": settings.models} if settings.models else {}
    return ForecasterConfig(
        resolution=sensor.event_resolution,
        timezone=sensor.timezone,
        country=settings.country,
        horizon=settings.horizon,
        forecast_every=settings.frequency,
        value_range=service_value_range(settings, sensor, asset_type),
        **extra,
    )
