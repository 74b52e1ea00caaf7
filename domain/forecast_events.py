"""Forecasting as events: triggers, forecasts made, per-sensor settings, deterministic ids. Pure.

Forecasts themselves are beliefs: :class:`~domain.beliefs.SensorDataRecorded` on the sensor's
``sensordata-<id>`` stream with ``source_type`` ``forecaster``, belief time ``prior`` = when
the forecast was made *in data time* (the end of the latest reading learned), so a replay makes
the same beliefs. Sources: :data:`LIVE_SOURCE` (the continuous forecaster; ``auto`` = the model
with the lowest running 1-WAPE serves each horizon) and :data:`TRIGGER_SOURCE` (on-demand jobs).

Streams and ids (everything is derived from data, so replaying history appends nothing new):

* ``forecast-<sensor id>`` holds :class:`ForecastTriggered` (a client asked for a forecast job)
  and :class:`ForecastMade` (the live forecaster made a forecast: model choice, running errors);
* the live forecast beliefs have id :func:`live_forecast_event_id` (sensor, belief time, source);
* a job ``job-<uuid>`` (shared with scheduling) gets ``JobRequested`` and ``JobFinished`` /
  ``JobFailed`` with ids from :func:`job_event_id`; its forecast beliefs use :func:`job_event_id` too.

Sensor configuration (a sensor attribute; every key optional)::

    "forecasting": {
        "horizon": "PT48H",        # how far each forecast reaches (ISO 8601 duration)
        "frequency": "PT1H",       # forecast every this much of *data* (a multiple of the resolution)
        "country": "NL",           # public holidays for calendar features (ISO code; default none)
        "regressors": [12, 13],    # other sensors' values (e.g. temperature, prices) as regressors
        "models": ["naive_day", "naive_week", "lag_linear", "holt_winters"],  # default: all
        "learn_from": "measurements",  # or "all": also beliefs formed before the event's end
        "value-range": [0, null]   # forecasts are clipped to [min, max] (null: unbounded); or
                                   # "min": 0 / "max": 22. Default: from the sensor and asset type
    }

The default value range (:func:`domain.forecasting.value_range.default_value_range`) keeps a
consumption-only sensor (EV charging, a load: power or energy) at or above 0 and a
production-only one (PV, wind) at or below 0; other sensors (prices, net meters) are unbounded.

``"forecasting": true`` (or ``{}``) switches forecasting on with the defaults; absent or
``false`` leaves it off (a forecast trigger switches it on with the defaults). ``learn_from``
defaults to ``"all"`` for price sensors (a currency in the unit, e.g. EUR/MWh: day-ahead prices
are published before the fact) and to ``"measurements"`` otherwise, i.e. only beliefs formed at
or after the end of their event (never our own or others' prognoses).
"""

from __future__ import annotations

import functools
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import isodate
from holidays.registry import EntityLoader
from pydantic import Field, field_validator

from domain.beliefs import SensorDataRecorded, belief_times_us, to_epoch_us
from domain.event_forms import finite_floats, json_time, name_based_id
from domain.events import DomainEvent, register_event
from domain.jobs import JobRequested

FORECAST_NAMESPACE = uuid.UUID("0d4c9a3e-5b7f-4e21-a8d6-3f2b9c1e7a54")
_FORECAST_NAMESPACE_BYTES = FORECAST_NAMESPACE.bytes
FORECASTER_SOURCE_TYPE = "forecaster"
LIVE_SOURCE = "forecaster:auto"
TRIGGER_SOURCE = "forecaster:trigger"
DEFAULT_HORIZON = timedelta(hours=48)
DEFAULT_FREQUENCY = timedelta(hours=1)
CURRENCIES = ("EUR", "USD", "GBP", "KRW", "JPY", "CHF", "NOK", "SEK", "DKK", "PLN", "AUD", "CAD", "CNY", "INR")
LearnFrom = Literal["measurements", "all"]


def forecast_stream(sensor_id: int) -> str:
    return f"forecast-{sensor_id}"


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("datetime must be timezone-aware")
    return value


@register_event
class ForecastTriggered(DomainEvent):
    """A client asked for forecasts of ``sensor_id`` for ``[start, end)`` (job ``job_id``).

    Forecasts are made every ``frequency_s`` from ``start`` on, each reaching at most
    ``max_horizon_s`` ahead, by a model trained on the sensor's readings in ``[train_start,
    start)`` (and, walking forward, on those up to each forecast's time). ``regressors`` are
    sensor ids whose values are used as regressors.
    """

    job_id: uuid.UUID
    sensor_id: int
    start: datetime
    end: datetime
    max_horizon_s: int
    frequency_s: int
    train_start: datetime
    regressors: list[int] = Field(default_factory=list)

    _check_times = field_validator("start", "end", "train_start")(_aware)


@register_event
class ForecastMade(DomainEvent):
    """The live forecaster of ``sensor_id`` made a forecast at ``belief_time`` (data time).

    ``selection``: horizon bucket (``"1h"``, ``"6h"``, ``"24h"``, ``"48h"``) -> serving model
    (``"ensemble"``: the error-weighted combination); ``running_errors``: bucket -> model (and
    ``"ensemble"``) -> ``one_minus_wape``/``wape``/``mae`` (the sensor's unit)/``n`` (count)
    over the selection window (``None`` where undefined) and the model's ensemble ``weight``;
    ``learned``: readings learned when the forecast was made. Selection and running errors are
    empty in a compact summary: they live in the forecaster's checkpointed state and are
    written out once a day of data (the forecast at 00:00 UTC) and with the latest forecast of
    each readings event, so a year of hourly forecasts does not store a year of error tables.
    The forecast values are the ``SensorDataRecorded`` of ``source`` at ``belief_time``
    (``n_values`` values of ``resolution_s`` from ``start``).
    """

    sensor_id: int
    belief_time: datetime
    start: datetime
    resolution_s: int
    n_values: int
    source: str
    learned: int
    selection: dict[str, str] = {}
    running_errors: dict[str, dict[str, dict[str, int | float | None]]] = {}

    _check_times = field_validator("belief_time", "start")(_aware)


def live_forecast_event_id(sensor_id: int, belief_time: datetime, source: str = LIVE_SOURCE) -> uuid.UUID:
    """Id of the live forecast of a sensor made at ``belief_time``: the same on every replay."""
    return name_based_id(_FORECAST_NAMESPACE_BYTES, f"forecast:{sensor_id}:{to_epoch_us(belief_time)}:{source}")


def forecast_made_event_id(sensor_id: int, belief_time: datetime) -> uuid.UUID:
    return name_based_id(_FORECAST_NAMESPACE_BYTES, f"forecast-made:{sensor_id}:{to_epoch_us(belief_time)}")


def job_event_id(job_id: uuid.UUID, what: str) -> uuid.UUID:
    """Ids of a forecast job's events: ``trigger``, ``job-requested``, ``job-outcome``, ``beliefs-<n>``."""
    return name_based_id(job_id.bytes, what)


def finite_or_none(errors: dict[str, dict[str, dict[str, float]]]) -> dict[str, dict[str, dict[str, float | None]]]:
    """Running errors with NaN/inf replaced by ``None`` (JSON and PostgreSQL cannot hold NaN)."""
    return {
        bucket: {
            model: {key: (v if isinstance(v, int) or math.isfinite(v) else None) for key, v in metrics.items()}
            for model, metrics in models.items()
        }
        for bucket, models in errors.items()
    }


# -- per-sensor settings ------------------------------------------------------------------


class ForecastSettingsError(ValueError):
    """The sensor's ``forecasting`` attribute is not valid."""


@dataclass(frozen=True)
class ForecastSettings:
    """How one sensor is forecast (see the module docstring for the attribute)."""

    horizon: timedelta = DEFAULT_HORIZON
    frequency: timedelta = DEFAULT_FREQUENCY
    country: str | None = None
    regressors: tuple[int, ...] = ()
    models: tuple[str, ...] | None = None
    learn_from: LearnFrom = "measurements"
    value_range: tuple[float | None, float | None] | None = None
    """``(min, max)`` set in the attribute (None at either end: unbounded); None: from the type."""

    def key(self) -> str:
        """A stable text form: a model is rebuilt when its settings' key changes."""
        models = ",".join(self.models) if self.models else "*"
        regressors = ",".join(str(r) for r in self.regressors)
        return (
            f"h={int(self.horizon.total_seconds())};f={int(self.frequency.total_seconds())};c={self.country};"
            f"r={regressors};m={models};l={self.learn_from}{_range_key(self.value_range)}"
        )


def _range_key(value_range: tuple[float | None, float | None] | None) -> str:
    return "" if value_range is None else f";v={value_range[0]},{value_range[1]}"


def is_price_unit(unit: str) -> bool:
    return any(currency in unit.upper() for currency in CURRENCIES)


def settings_from_attributes(attributes: dict[str, Any], unit: str, triggered: bool = False) -> ForecastSettings | None:
    """The sensor's forecast settings; ``None`` when forecasting is off. Raises ForecastSettingsError."""
    raw = attributes.get("forecasting") if isinstance(attributes, dict) else None
    if raw is False or (raw is None and not triggered):
        return None
    if raw is None or raw is True:
        raw = {}
    if not isinstance(raw, dict):
        raise ForecastSettingsError("the forecasting attribute must be an object, true or false")
    learn_from = raw.get("learn_from", "all" if is_price_unit(unit) else "measurements")
    if learn_from not in ("measurements", "all"):
        raise ForecastSettingsError("learn_from must be 'measurements' or 'all'")
    return ForecastSettings(
        horizon=_duration(raw.get("horizon"), DEFAULT_HORIZON, "horizon"),
        frequency=_duration(raw.get("frequency"), DEFAULT_FREQUENCY, "frequency"),
        country=_country(raw.get("country")),
        regressors=_ids(raw.get("regressors", [])),
        models=None if raw.get("models") is None else tuple(str(m) for m in raw["models"]),
        learn_from=learn_from,
        value_range=_value_range(raw),
    )


def _bound(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ForecastSettingsError(f"forecasting.{name} must be a number or null, not {value!r}")
    return float(value)


def _value_range(raw: dict[str, Any]) -> tuple[float | None, float | None] | None:
    """``value-range`` (``[min, max]``) or ``min``/``max``; None when neither is given."""
    given = raw.get("value-range", raw.get("value_range"))
    if given is not None and ("min" in raw or "max" in raw):
        raise ForecastSettingsError("forecasting: give either value-range or min/max, not both")
    if given is not None:
        if not isinstance(given, list | tuple) or len(given) != 2:
            raise ForecastSettingsError(f"forecasting.value-range must be [min, max], not {given!r}")
        low, high = _bound(given[0], "value-range"), _bound(given[1], "value-range")
    elif "min" in raw or "max" in raw:
        low, high = _bound(raw.get("min"), "min"), _bound(raw.get("max"), "max")
    else:
        return None
    if low is not None and high is not None and low > high:
        raise ForecastSettingsError("forecasting: the minimum must not exceed the maximum")
    return (low, high)


def parse_iso_duration(text: str) -> timedelta:
    """An ISO 8601 duration of days, hours, minutes or seconds (no months or years)."""
    parsed = isodate.parse_duration(text)
    if isinstance(parsed, isodate.Duration):
        raise ValueError(f"{text!r}: use days, hours, minutes or seconds, not months or years")
    return parsed


def _duration(value: Any, default: timedelta, name: str) -> timedelta:
    if value is None:
        return default
    try:
        parsed = parse_iso_duration(value) if isinstance(value, str) else None
    except (isodate.ISO8601Error, ValueError):
        parsed = None
    if parsed is None or parsed <= timedelta(0):
        raise ForecastSettingsError(f"forecasting.{name} must be a positive ISO 8601 duration, not {value!r}")
    return parsed


@functools.cache
def supported_countries() -> frozenset[str]:
    """ISO codes (and aliases) of the countries whose holidays are known: the keys of
    ``holidays.list_supported_countries()``, read from the registry (that function imports every
    country's module, ~130 ms, and a forecast sensor's settings are read for each readings event)."""
    return frozenset(EntityLoader.get_country_codes(include_aliases=True))


def _country(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and value.upper() in supported_countries():
        return value.upper()
    raise ForecastSettingsError(f"forecasting.country must be an ISO country code such as 'NL', not {value!r}")


def _ids(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise ForecastSettingsError("forecasting.regressors must be a list of sensor ids")
    return tuple(value)


# -- which beliefs are learned ------------------------------------------------------------


def learnable_values(
    event: SensorDataRecorded, learn_from: LearnFrom, resolution_s: int
) -> list[tuple[datetime, float]]:
    """(event start, value) of the beliefs a forecaster learns from, in order.

    Never our own forecasts (``source_type`` forecaster) nor values of another resolution;
    with ``learn_from="measurements"`` only beliefs formed at or after their event's end.
    """
    if event.source_type == FORECASTER_SOURCE_TYPE or event.resolution_s != resolution_s:
        return []
    step = timedelta(seconds=event.resolution_s)
    out: list[tuple[datetime, float]] = []
    if learn_from == "all":
        return [(event.start + i * step, v) for i, v in enumerate(event.values) if v is not None]
    beliefs = belief_times_us(event)
    end_us = to_epoch_us(event.start) + event.resolution_s * 1_000_000
    step_us = event.resolution_s * 1_000_000
    for i, value in enumerate(event.values):
        if value is not None and beliefs[i] >= end_us + i * step_us:
            out.append((event.start + i * step, value))
    return out


def forecast_beliefs(
    sensor_id: int, unit: str, start: datetime, resolution: timedelta, values: list[float | None],
    belief_time: datetime, source: str,
) -> SensorDataRecorded:
    """Forecast values as beliefs of ``source`` formed at ``belief_time`` (in the sensor's unit)."""
    return SensorDataRecorded(
        sensor_id=sensor_id,
        start=start,
        resolution_s=int(resolution.total_seconds()),
        values=finite_floats(values),
        unit=unit,
        source=source,
        source_type=FORECASTER_SOURCE_TYPE,
        prior=belief_time,
        received_at=belief_time,
    )


def forecast_beliefs_data(
    sensor_id: int, unit: str, start: datetime, resolution: timedelta, values: Sequence[float | None],
    belief_time: datetime, source: str,
) -> dict[str, Any]:
    """``forecast_beliefs(...).to_data()`` (the same dict, the event's stored form), built without
    the model: the live forecaster emits one per forecast, and validating 48 values only to dump
    them again cost more than the rest of the emission."""
    belief_text = json_time(belief_time)
    return {
        "sensor_id": sensor_id,
        "start": belief_text if start is belief_time else json_time(start),
        "resolution_s": int(resolution.total_seconds()),
        "values": finite_floats(values),
        "unit": unit,
        "source": source,
        "source_type": FORECASTER_SOURCE_TYPE,
        "prior": belief_text,
        "horizon_s": None,
        "received_at": belief_text,
    }


def compact_forecast_made_data(
    sensor_id: int, belief_time: datetime, start: datetime, resolution_s: int, n_values: int, source: str,
    learned: int,
) -> dict[str, Any]:
    """``ForecastMade(...).to_data()`` of a compact summary (no selection, no running errors),
    built without the model (one per forecast, as :func:`forecast_beliefs_data`)."""
    belief_text = json_time(belief_time)
    return {
        "sensor_id": sensor_id,
        "belief_time": belief_text,
        "start": belief_text if start is belief_time else json_time(start),
        "resolution_s": resolution_s,
        "n_values": n_values,
        "source": source,
        "learned": learned,
        "selection": {},
        "running_errors": {},
    }


def job_request(trigger: ForecastTriggered) -> JobRequested:
    """The job of a forecast trigger (the API appends it; the forecaster re-appends it, stored once)."""
    params = {
        "start": trigger.start.isoformat(),
        "end": trigger.end.isoformat(),
        "max_horizon_s": trigger.max_horizon_s,
        "frequency_s": trigger.frequency_s,
        "train_start": trigger.train_start.isoformat(),
        "regressors": list(trigger.regressors),
    }
    return JobRequested(job_id=trigger.job_id, kind="forecast", sensor_id=trigger.sensor_id, params=params)
