"""v3 forecasts (FlexMeasures-compatible): trigger a forecast job, fetch it, see the models.

* ``POST /api/v3_0/sensors/{id}/forecasts/trigger`` — the window by at most two of ``start``,
  ``end`` and ``duration`` (default: from now, floored to the sensor's resolution, for
  ``max-forecast-horizon``); ``max-forecast-horizon`` (how far each forecast reaches; default
  the whole window) and ``forecast-frequency`` (a new forecast every ...; default the
  horizon). ``config``: ``train-start`` or ``train-period`` (default P30D, at least P2D, at most
  ``max-training-period``, default P365D) and ``regressors`` / ``future-regressors`` /
  ``past-regressors`` (sensor ids, all used as regressors); ``retrain-frequency`` is accepted
  and ignored (the models learn online). Answers 200 ``{"forecast": <uuid>, "status":
  "PROCESSED"}``; the job is ``GET /api/v3_0/jobs/<uuid>``.
* ``GET /api/v3_0/sensors/{id}/forecasts/{uuid}`` — ``values`` (the sensor's unit, or ``unit``),
  ``start``, ``duration``, ``unit``, plus ``resolution`` and ``belief_time`` (when, in data
  time, the last forecast was made). 202 with the job ``status`` while it runs; 422 with the
  job's code when it failed; 404 ``UNKNOWN_FORECAST`` for an unknown uuid.
* ``GET /api/v3_0/sensors/{id}/forecasting`` — the sensor's live forecasting: its settings
  (value range included), what serves each horizon (the error-weighted ``ensemble``) and the
  running errors (1-WAPE, WAPE, MAE, count) and ensemble weight per model and horizon.

The forecasts also land in the sensor's data as beliefs (``GET /sensors/{id}/data`` with a
positive ``horizon`` or a ``prior``): source ``forecaster:trigger`` for jobs,
``forecaster:auto`` for the live forecaster. Power: consumption positive, production negative.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from api.deps import Commands, Consistency, ReadConn, User, visible_asset, visible_sensor
from api.errors import ApiError
from api.schemas import ForecastingOut, ForecastOut, ForecastTriggerOut
from api.timefmt import IsoDuration, hours_duration
from api.validation import Id, Moment
from commands.context import CommandContext
from domain.events import utc_now
from domain.forecast_events import (
    DEFAULT_HORIZON,
    ForecastSettings,
    ForecastSettingsError,
    ForecastTriggered,
    forecast_stream,
    job_event_id,
    job_request,
    settings_from_attributes,
)
from domain.forecast_jobs import MAX_JOB_STEPS
from domain.forecasting.value_range import default_value_range
from domain.grid import on_grid
from domain.jobs import FAILED, FINISHED, job_stream
from domain.ports.event_store import ANY, NO_STREAM
from domain.units import UnitError, convert_values
from projections.forecast_models import forecast_model
from projections.jobs import job_by_id

router = APIRouter(prefix="/api/v3_0", tags=["forecasts"])
JOBS = "projection.jobs"
DEFAULT_TRAIN_PERIOD = timedelta(days=30)
MIN_TRAIN_PERIOD = timedelta(days=2)
DEFAULT_MAX_TRAINING_PERIOD = timedelta(days=365)


class ForecastConfigIn(BaseModel):
    """Training settings (FlexMeasures' names); other keys are ignored."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    train_start: Moment | None = Field(default=None, alias="train-start")
    train_period: IsoDuration | None = Field(default=None, alias="train-period")
    max_training_period: IsoDuration | None = Field(default=None, alias="max-training-period")
    retrain_frequency: IsoDuration | None = Field(default=None, alias="retrain-frequency")
    regressors: list[Id] = Field(default_factory=list)
    future_regressors: list[Id] = Field(default_factory=list, alias="future-regressors")
    past_regressors: list[Id] = Field(default_factory=list, alias="past-regressors")


class ForecastTriggerIn(BaseModel):
    """A forecast trigger (FlexMeasures' field names)."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    start: Moment | None = None
    end: Moment | None = None
    duration: IsoDuration | None = None
    max_forecast_horizon: IsoDuration | None = Field(default=None, alias="max-forecast-horizon")
    forecast_frequency: IsoDuration | None = Field(default=None, alias="forecast-frequency")
    probabilistic: bool | None = None
    config: ForecastConfigIn = Field(default_factory=ForecastConfigIn)


@router.post("/sensors/{sensor_id}/forecasts/trigger", response_model=ForecastTriggerOut)
def trigger_forecast(
    sensor_id: Id, body: ForecastTriggerIn, user: User, commands: Commands, conn: ReadConn, consistency: Consistency
) -> dict:
    """Queue a forecast job for the sensor; answers ``{"forecast": <job uuid>}``."""
    sensor = visible_sensor(conn, user, sensor_id, write=True)
    trigger = validated_trigger(body, sensor, lambda other: visible_sensor(conn, user, other))
    position = append_trigger(commands, trigger)
    consistency.wait_until_projected(JOBS, position, job_stream(trigger.job_id))
    return {"forecast": str(trigger.job_id), "status": "PROCESSED", "message": "Forecasting job has been created."}


def append_trigger(commands: CommandContext, trigger: ForecastTriggered) -> int:
    """Append the trigger (on ``forecast-<sensor>``) and its job; returns the job's position."""
    commands.store.append(
        forecast_stream(trigger.sensor_id), [commands.new_event(trigger, job_event_id(trigger.job_id, "trigger"))], ANY
    )
    job = commands.new_event(job_request(trigger), job_event_id(trigger.job_id, "job-requested"))
    return commands.store.append(job_stream(trigger.job_id), [job], NO_STREAM).global_position


def validated_trigger(body: ForecastTriggerIn, sensor: dict, check_sensor) -> ForecastTriggered:
    """The trigger event for a valid request (422 with a stable code and the field otherwise)."""
    resolution = timedelta(seconds=sensor["event_resolution_s"])
    if resolution <= timedelta(0) or timedelta(days=1) % resolution:
        raise ApiError(422, "UNSUPPORTED_SENSOR", f"cannot forecast a sensor with resolution {resolution}", "id")
    if body.probabilistic:
        raise ApiError(422, "UNSUPPORTED", "probabilistic forecasts are not supported", "probabilistic")
    try:
        settings_from_attributes(sensor["attributes"], sensor["unit"], triggered=True)
    except ForecastSettingsError as exc:
        raise ApiError(422, "INVALID_FORECAST_SETTINGS", str(exc), "attributes") from exc
    start, end = _window(body, sensor, resolution)
    horizon = _step(body.max_forecast_horizon or (end - start), resolution, "max-forecast-horizon")
    frequency = _step(body.forecast_frequency or horizon, resolution, "forecast-frequency")
    regressors = sorted({*body.config.regressors, *body.config.future_regressors, *body.config.past_regressors})
    for other in regressors:
        check_sensor(other)
    return ForecastTriggered(
        job_id=uuid.uuid4(),
        sensor_id=sensor["id"],
        start=start,
        end=end,
        max_horizon_s=int(horizon.total_seconds()),
        frequency_s=int(frequency.total_seconds()),
        train_start=_train_start(body.config, start),
        regressors=regressors,
    )


def _window(body: ForecastTriggerIn, sensor: dict, resolution: timedelta) -> tuple[datetime, datetime]:
    given = [name for name in ("start", "end", "duration") if getattr(body, name) is not None]
    if len(given) == 3:
        raise ApiError(422, "INVALID_PERIOD", "provide at most two of start, end and duration", "duration")
    if body.duration is not None and body.duration <= timedelta(0):
        raise ApiError(422, "INVALID_PERIOD", "duration must be positive", "duration")
    start = body.start
    if start is None:
        start = body.end - body.duration if body.end and body.duration else _floor(utc_now(), resolution)
    end = body.end or start + (body.duration or body.max_forecast_horizon or DEFAULT_HORIZON)
    if not on_grid(start, resolution, sensor["timezone"]):
        raise ApiError(422, "INVALID_START", f"start must be aligned to the sensor resolution {resolution}", "start")
    if end <= start or (end - start) % resolution:
        raise ApiError(422, "INVALID_PERIOD", f"the window must be a positive multiple of {resolution}", "end")
    if (end - start) / resolution > MAX_JOB_STEPS:
        raise ApiError(422, "INVALID_PERIOD", f"the window holds more than {MAX_JOB_STEPS} slots", "end")
    return start, end


def _floor(moment: datetime, resolution: timedelta) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=moment.tzinfo)
    return epoch + (moment - epoch) // resolution * resolution


def _step(value: timedelta, resolution: timedelta, field: str) -> timedelta:
    if value < resolution or value % resolution:
        raise ApiError(422, "INVALID_DURATION", f"{field} must be a positive multiple of {resolution}", field)
    return value


def _train_start(config: ForecastConfigIn, start: datetime) -> datetime:
    longest = config.max_training_period or DEFAULT_MAX_TRAINING_PERIOD
    if config.train_start is not None:
        if config.train_start >= start:
            raise ApiError(422, "INVALID_PERIOD", "train-start must be before the start", "config.train-start")
        return max(config.train_start, start - longest)
    period = config.train_period or DEFAULT_TRAIN_PERIOD
    if period < MIN_TRAIN_PERIOD:
        message = f"train-period must be at least {MIN_TRAIN_PERIOD}"
        raise ApiError(422, "INVALID_PERIOD", message, "config.train-period")
    return start - min(period, longest)


@router.get(
    "/sensors/{sensor_id}/forecasts/{forecast_id}", response_model=ForecastOut, responses={202: {"model": ForecastOut}}
)
def get_forecast(sensor_id: Id, forecast_id: str, user: User, conn: ReadConn, unit: str | None = None) -> JSONResponse:
    """The forecast of a job: 200 when ready, 202 while it runs, 422 when it failed."""
    sensor = visible_sensor(conn, user, sensor_id)
    job = job_by_id(conn, _uuid(forecast_id))
    if job is None or job["kind"] != "forecast" or job["sensor_id"] != sensor_id:
        raise ApiError(404, "UNKNOWN_FORECAST", f"no forecast {forecast_id} for sensor {sensor_id}", "uuid")
    if job["status"] == FAILED:
        raise ApiError(422, str(job["result"].get("code", "JOB_FAILED")), job["message"], "uuid")
    if job["status"] != FINISHED:
        body = {"status": job["status"], "message": "Forecasting job is still being processed.", "job_id": forecast_id}
        return JSONResponse(body, status_code=202)
    return JSONResponse(_forecast_json(job["result"], sensor, unit))


def _uuid(text: str) -> str:
    try:
        return str(uuid.UUID(text))
    except ValueError as exc:
        raise ApiError(404, "UNKNOWN_FORECAST", f"{text!r} is not a forecast id (a UUID)", "uuid") from exc


def _forecast_json(result: dict[str, Any], sensor: dict, unit: str | None) -> dict:
    values, target = result["values"], unit or result["unit"]
    if target != result["unit"]:
        resolution = timedelta(seconds=sensor["event_resolution_s"])
        try:
            values = convert_values(values, result["unit"], target, resolution=resolution)
        except UnitError as exc:
            raise ApiError(422, "INVALID_UNIT", f"{exc} (sensor unit: {result['unit']})", "unit") from exc
    return {
        "values": values,
        "start": result["start"],
        "duration": result["duration"],
        "unit": target,
        "resolution": result["resolution"],
        "belief_time": result["belief_time"],
        "source": result["source"],
    }


@router.get("/sensors/{sensor_id}/forecasting", response_model=ForecastingOut)
def get_forecasting(sensor_id: Id, user: User, conn: ReadConn) -> dict:
    """The sensor's live forecasting: settings, value range, what serves each horizon, running errors.

    ``running_errors``: horizon bucket -> model (and ``ensemble``, what is served) ->
    ``one_minus_wape``, ``wape``, ``mae`` (the sensor's unit), ``n`` (matured forecasts in the
    window, an integer) and ``weight`` (the model's share of the ensemble for that bucket).
    """
    sensor = visible_sensor(conn, user, sensor_id)
    row = forecast_model(conn, sensor_id)
    try:
        # a sensor forecast because of a trigger is configured with the defaults
        settings = settings_from_attributes(sensor["attributes"], sensor["unit"], triggered=row is not None)
        problem = None
    except ForecastSettingsError as exc:
        settings, problem = None, str(exc)
    body: dict[str, Any] = {"sensor": sensor_id, "configured": settings is not None, "unit": sensor["unit"]}
    if problem:
        body["problem"] = problem
    if settings is not None:
        body["settings"] = _settings_json(settings, sensor, _asset_type(conn, user, sensor))
    if row is not None:
        body.update(
            source=row["source"], latest_belief_time=row["belief_time"], learned=int(row["learned"]),
            forecasts=int(row["forecasts"]), selection=row["selection"], running_errors=_counts(row["running_errors"]),
        )
    return body


def _asset_type(conn: ReadConn, user: User, sensor: dict) -> str | None:
    asset_id = sensor.get("asset_id")
    return None if asset_id is None else visible_asset(conn, user, asset_id).get("asset_type")


def _settings_json(settings: ForecastSettings, sensor: dict, asset_type: str | None) -> dict[str, Any]:
    low, high = settings.value_range or default_value_range(sensor["unit"], sensor.get("name"), asset_type)
    return {
        "horizon": hours_duration(settings.horizon),
        "frequency": hours_duration(settings.frequency),
        "country": settings.country,
        "regressors": list(settings.regressors),
        "models": list(settings.models) if settings.models else None,
        "learn_from": settings.learn_from,
        "value-range": [low, high],
        "value-range-from": "attribute" if settings.value_range is not None else "sensor and asset type",
    }


def _counts(errors: dict) -> dict:
    """Running errors with ``n`` as an integer (older summaries stored it as a float)."""
    return {
        bucket: {
            model: {k: (int(v) if k == "n" and v is not None else v) for k, v in metrics.items()}
            for model, metrics in models.items()
        }
        for bucket, models in errors.items()
    }
