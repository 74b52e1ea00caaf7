"""Forecast jobs: from a :class:`~domain.forecast_events.ForecastTriggered` to the job's outcome.

:func:`forecast_job_events` trains a fresh forecaster on the sensor's readings stored *before
the trigger* (so a replay computes the same forecast), walks forward through the window
(:mod:`domain.forecast_jobs`) and returns the events to append, in order:

1. the forecast as beliefs (``SensorDataRecorded``, source ``forecaster:trigger``, one event per
   run of slots with the same belief time) on ``sensordata-<sensor id>``;
2. on ``job-<uuid>``: the ``JobRequested`` (stored once: the API appended it already) and
   ``JobFinished`` whose ``result`` holds the values (``values``, ``start``, ``duration``,
   ``unit``, ``resolution``, ``belief_time``) — or ``JobFailed`` with a stable code
   (``UNRECOGNIZED_SENSOR``, ``UNSUPPORTED_SENSOR``, ``INVALID_FORECAST_SETTINGS``, ``NO_DATA``,
   ``FORECAST_FAILED``).

Every event id derives from the job id: recomputing a job appends nothing new. A job that
already ended (its stream holds ``JobFinished``/``JobFailed``) is not recomputed.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace
from datetime import timedelta

import isodate

from domain.events import DomainEvent, RecordedEvent
from domain.forecast_events import (
    TRIGGER_SOURCE,
    ForecastSettings,
    ForecastSettingsError,
    ForecastTriggered,
    forecast_beliefs,
    job_event_id,
    job_request,
    settings_from_attributes,
)
from domain.forecast_jobs import JobForecast, JobWindow, NoDataError, walk_forward
from domain.forecasting import SensorForecaster
from domain.forecasting.service import service_config
from domain.jobs import JobFailed, JobFinished, job_stream
from domain.ports.event_store import EventStore
from domain.registry import SensorRegistered
from streams.forecast_inputs import RegressorBook, SensorDirectory, sensor_data_stream, training_readings

TRAINING_CADENCE = timedelta(hours=6)
"""While training, the job's forecaster forecasts every 6 h of data to score its models."""

Emitted = tuple[str, DomainEvent, uuid.UUID]
"""(stream id, event, event id) to append."""

logger = logging.getLogger(__name__)


class _Failure(Exception):
    """The job cannot be done: ``code`` is stable, ``reason`` is for humans."""

    def __init__(self, code: str, reason: str):
        super().__init__(reason)
        self.code, self.reason = code, reason


def job_ended(store: EventStore, job_id: uuid.UUID) -> bool:
    return any(r.type in ("JobFinished", "JobFailed") for r in store.read_stream(job_stream(job_id)))


def forecast_job_events(
    store: EventStore, directory: SensorDirectory, book: RegressorBook, recorded: RecordedEvent
) -> list[Emitted]:
    """The events that end the job of the trigger ``recorded`` (see the module docstring)."""
    trigger: ForecastTriggered = recorded.decode()  # type: ignore[assignment]
    job = job_request(trigger)
    stream = job_stream(trigger.job_id)
    requested: Emitted = (stream, job, job_event_id(trigger.job_id, "job-requested"))
    try:
        sensor, forecast = _compute(store, directory, book, trigger, recorded.global_position)
    except _Failure as failure:
        failed = JobFailed(job_id=trigger.job_id, code=failure.code, reason=f"Forecasting job failed: {failure.reason}")
        logger.warning("forecast job %s for sensor %s failed: %s", trigger.job_id, trigger.sensor_id, failed.reason)
        return [requested, (stream, failed, job_event_id(trigger.job_id, "job-outcome"))]
    beliefs = _belief_events(trigger, sensor, forecast)
    finished = JobFinished(job_id=trigger.job_id, message="Forecasting job has finished.",
                           result=_result(trigger, sensor, forecast))
    return [*beliefs, requested, (stream, finished, job_event_id(trigger.job_id, "job-outcome"))]


def _compute(
    store: EventStore, directory: SensorDirectory, book: RegressorBook, trigger: ForecastTriggered, position: int
) -> tuple[SensorRegistered, JobForecast]:
    sensor = directory.get(trigger.sensor_id, position)
    if sensor is None:
        raise _Failure("UNRECOGNIZED_SENSOR", f"sensor {trigger.sensor_id} does not exist (any more)")
    resolution = sensor.event_resolution
    settings = _settings(sensor)
    forecaster = _forecaster(sensor, settings, trigger)
    readings = training_readings(
        store, sensor.sensor_id, settings.learn_from, sensor.event_resolution_s, position,
        trigger.train_start, trigger.end,
    )
    window = JobWindow(
        start=trigger.start,
        end=trigger.end,
        resolution=resolution,
        max_horizon=timedelta(seconds=trigger.max_horizon_s),
        frequency=timedelta(seconds=trigger.frequency_s),
        train_start=trigger.train_start,
    )
    regressors = list(trigger.regressors)

    def known(moment):
        return book.at(regressors, moment, position)

    def future(start, steps):
        return book.future(regressors, start, steps, resolution, position)

    try:
        return sensor, walk_forward(forecaster, readings, window, known if regressors else None,
                                    future if regressors else None)
    except NoDataError as exc:
        raise _Failure("NO_DATA", f"sensor {sensor.sensor_id} has no readings to learn from: {exc}") from exc
    except (ValueError, ArithmeticError, IndexError, KeyError) as exc:  # the data or settings, not the platform
        raise _Failure("FORECAST_FAILED", f"{type(exc).__name__}: {exc}") from exc


def _settings(sensor: SensorRegistered) -> ForecastSettings:
    """The sensor's settings (the defaults when its forecasting attribute is off)."""
    try:
        return settings_from_attributes(sensor.attributes, sensor.unit, triggered=True) or ForecastSettings()
    except ForecastSettingsError as exc:
        raise _Failure("INVALID_FORECAST_SETTINGS", str(exc)) from exc


def _forecaster(sensor: SensorRegistered, settings: ForecastSettings, trigger: ForecastTriggered) -> SensorForecaster:
    resolution = sensor.event_resolution
    if resolution <= timedelta(0) or timedelta(days=1) % resolution:
        raise _Failure("UNSUPPORTED_SENSOR", f"sensor resolution {resolution} does not divide a day")
    cadence = resolution * -(-TRAINING_CADENCE // resolution)
    try:
        # the live service's config (models, value range from the sensor), with the job's horizon and cadence
        config = replace(
            service_config(settings, sensor),
            horizon=max(resolution, timedelta(seconds=trigger.max_horizon_s)),
            forecast_every=cadence,
        )
        return SensorForecaster(config)
    except (ValueError, NotImplementedError, KeyError) as exc:
        raise _Failure("INVALID_FORECAST_SETTINGS", str(exc)) from exc


def _belief_events(trigger: ForecastTriggered, sensor: SensorRegistered, forecast: JobForecast) -> list[Emitted]:
    resolution = sensor.event_resolution
    stream = sensor_data_stream(sensor.sensor_id)
    events: list[Emitted] = []
    for index, (first, stop, belief_time) in enumerate(forecast.runs()):
        beliefs = forecast_beliefs(
            sensor.sensor_id, sensor.unit, trigger.start + first * resolution, resolution,
            _rounded(forecast.values[first:stop]), belief_time, TRIGGER_SOURCE,
        )
        events.append((stream, beliefs, job_event_id(trigger.job_id, f"beliefs-{index}")))
    return events


def _rounded(values) -> list[float | None]:
    """Job values to 9 decimals: the stored beliefs and the job result hold the same numbers."""
    return [None if v is None else round(v, 9) for v in values]


def format_duration(value: timedelta) -> str:
    return isodate.duration_isoformat(value)


def _result(trigger: ForecastTriggered, sensor: SensorRegistered, forecast: JobForecast) -> dict:
    beliefs = [b for b in forecast.belief_times if b is not None]
    return {
        "sensor": sensor.sensor_id,
        "start": trigger.start.isoformat(),
        "duration": format_duration(trigger.end - trigger.start),
        "resolution": format_duration(sensor.event_resolution),
        "unit": sensor.unit,
        "values": _rounded(forecast.values),
        "belief_time": max(beliefs).isoformat(),
        "source": TRIGGER_SOURCE,
        "selection": forecast.selection,
        "learned": forecast.learned,
    }
