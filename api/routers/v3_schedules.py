"""v3 schedules (FlexMeasures-compatible): trigger on an asset or a sensor, fetch per sensor.

* ``POST /api/v3_0/assets/{id}/schedules/trigger`` — ``start``, optional ``duration`` (default
  PT48H), ``flex-model`` (a list of devices, each naming its power ``sensor``, on the asset or
  its descendants; default: the asset's stored flex-model), ``flex-context``, ``prior`` (belief
  time of the inputs) and ``force-new-job-creation``. Answers 200 ``{"schedule": <uuid>,
  "job": <uuid>, "status": "PROCESSED"}``; the job is ``GET /api/v3_0/jobs/<uuid>``. An
  identical request re-uses the earlier schedule unless ``force-new-job-creation`` is true.
* ``POST /api/v3_0/sensors/{id}/schedules/trigger`` — the same for one device: ``flex-model`` is
  that device's object.
* ``GET /api/v3_0/sensors/{id}/schedules/latest`` (our addition) — the device's current schedule,
  whatever asked for it (a trigger, a UDI event, a state-of-charge reading); its ``schedule``
  field is the uuid. 404 ``UNKNOWN_SCHEDULE`` when the device has none yet.
* ``GET /api/v3_0/sensors/{id}/schedules/{uuid}`` — optional ``duration`` (default PT6H) and
  ``unit`` (default the sensor's): ``values`` (power, consumption positive), ``start``,
  ``duration``, ``unit``, plus ``scheduling_result`` (soft constraints left unmet, with the
  shortfall; datetimes in the sensor's timezone, as ``start``) and ``solver`` (our addition:
  ``status`` optimal / feasible / infeasible-relaxed, the proven relative ``gap``, ``cost_eur``
  over the horizon, the number of ``unmet_constraints``). Without ``duration`` the first 6 hours
  are returned, as FlexMeasures does (its GetScheduleSchema default). 202 with the job
  ``status`` while it is not ready; 400 ``UNKNOWN_SCHEDULE`` with the reason when it failed;
  400 ``UNRECOGNIZED_UDI_EVENT`` for an unknown uuid (as FlexMeasures); 404 ``UNKNOWN_SCHEDULE``
  for a schedule that is not this sensor's (another device's or account's).

The stored flex-model of each device's asset and the flex-context of the asset and its
ancestors are completed by the request (the request's fields win). Bad input is 422 with a
stable code and the field (``flex-model[0].soc-max`` ...); nothing is appended then.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from api.authorization import job_account, schedule_covers_sensor
from api.deps import Commands, Consistency, ReadConn, User, visible_asset, visible_sensor
from api.errors import ApiError
from api.routers.schedule_common import (
    WAITING,
    as_uuid,
    failure_message,
    public_scheduling_result,
    schedule_window,
    solver_summary,
    wait_for_outcome,
    wait_for_schedule,
)
from api.routers.schedule_validation import DEFAULT_HORIZON, validated_trigger
from api.schemas import ScheduleOut, ScheduleTriggerOut
from api.timefmt import format_duration, parse_duration
from api.validation import Id, Moment
from commands.scheduling import trigger_schedule
from domain.schedules import SCHEDULER_NAME
from domain.units import UnitError
from projections import schedules as sq
from projections.jobs import job_by_id

router = APIRouter(prefix="/api/v3_0", tags=["schedules"])
GET_DEFAULT_DURATION = timedelta(hours=6)
LATEST = "latest"
"""Stands for the device's current schedule in ``GET .../schedules/{uuid}``."""


class TriggerIn(BaseModel):
    """A schedule trigger (FlexMeasures' field names; ``force_new_job_creation`` is accepted too)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    start: Moment
    duration: str | None = None
    prior: Moment | None = None
    flex_model: list[dict[str, Any]] | dict[str, Any] | None = Field(default=None, alias="flex-model")
    flex_context: dict[str, Any] | None = Field(default=None, alias="flex-context")
    force_new_job_creation: bool = Field(
        default=False, validation_alias=AliasChoices("force-new-job-creation", "force_new_job_creation")
    )
    sequential: bool = False

    def horizon(self) -> timedelta:
        if self.duration is None:
            return DEFAULT_HORIZON
        try:
            value = parse_duration(self.duration)
        except ValueError as exc:
            raise ApiError(422, "INVALID_DURATION", str(exc), "duration") from exc
        if value <= timedelta(0):
            raise ApiError(422, "INVALID_DURATION", "duration must be positive", "duration")
        return value


def _processed(schedule_id: str) -> dict:
    return {
        "status": "PROCESSED",
        "schedule": schedule_id,
        "job": schedule_id,
        "message": "Request has been processed.",
    }


def _trigger(
    consistency, commands, conn, user, asset: dict, body: TriggerIn, devices: list[dict], sensor_id=None
) -> dict:
    command = validated_trigger(conn, user, asset, devices, body.flex_context, body.start, body.horizon(), body.prior)
    command = command.model_copy(update={"sensor_id": sensor_id, "force_new_job_creation": body.force_new_job_creation})
    if not body.force_new_job_creation:
        earlier = sq.reusable_schedule(conn, command.request_hash())
        if earlier is not None:
            return _processed(earlier["id"])
    schedule_id, result = trigger_schedule(commands, command)
    wait_for_schedule(consistency, schedule_id, result.global_position, with_job=True)
    return _processed(str(schedule_id))


@router.post("/assets/{asset_id}/schedules/trigger", response_model=ScheduleTriggerOut)
def trigger_asset_schedule(
    asset_id: Id, body: TriggerIn, user: User, commands: Commands, conn: ReadConn, consistency: Consistency
) -> dict:
    """Schedule the devices of an asset (and its descendants) together: one MILP for the site."""
    asset = visible_asset(conn, user, asset_id, write=True)
    devices = body.flex_model if body.flex_model is not None else asset["flex_model"]
    if isinstance(devices, dict):
        devices = [devices] if devices else []
    return _trigger(consistency, commands, conn, user, asset, body, list(devices or []))


@router.post("/sensors/{sensor_id}/schedules/trigger", response_model=ScheduleTriggerOut)
def trigger_sensor_schedule(
    sensor_id: Id, body: TriggerIn, user: User, commands: Commands, conn: ReadConn, consistency: Consistency
) -> dict:
    """Schedule one device, given its power sensor; ``flex-model`` is the device's object."""
    sensor = visible_sensor(conn, user, sensor_id, write=True)
    asset = visible_asset(conn, user, sensor["asset_id"], write=True)
    model = body.flex_model or {}
    if isinstance(model, list):
        raise ApiError(
            422, "INVALID_FLEX_MODEL", "the sensor endpoint takes one device's flex-model object", "flex-model"
        )
    return _trigger(consistency, commands, conn, user, asset, body, [{**model, "sensor": sensor_id}], sensor_id)


@router.get(
    "/sensors/{sensor_id}/schedules/{schedule_id}", response_model=ScheduleOut, responses={202: {"model": ScheduleOut}}
)
def get_schedule(
    sensor_id: Id,
    schedule_id: str,
    user: User,
    conn: ReadConn,
    consistency: Consistency,
    duration: str | None = None,
    unit: str | None = None,
) -> JSONResponse:
    """One device's part of a schedule (see the module docstring for the statuses)."""
    sensor = visible_sensor(conn, user, sensor_id)
    window = _duration(duration)
    schedule_id = _resolve_latest(conn, sensor_id, schedule_id)
    schedule = _schedule_row(conn, consistency, schedule_id)
    if schedule is None:
        job = job_by_id(conn, schedule_id)
        if job is not None and job_account(conn, job["sensor_id"], job["asset_id"]) != sensor["account_id"]:
            job = None  # another account's job: as unknown
        if job is None or job["kind"] != "schedule":
            message = f"The requested UDI event (id = {schedule_id}, type = job) is not known."
            raise ApiError(400, "UNRECOGNIZED_UDI_EVENT", message, "uuid")
        return JSONResponse({"status": job["status"], "message": WAITING}, status_code=202)
    if not schedule_covers_sensor(conn, schedule, sensor):
        message = f"no schedule {schedule_id} for sensor {sensor_id}"
        raise ApiError(404, "UNKNOWN_SCHEDULE", message, "uuid")  # another device's or account's schedule
    if schedule["status"] == "FAILED":
        raise ApiError(400, "UNKNOWN_SCHEDULE", failure_message(schedule), schedule.get("field") or "uuid")
    if schedule["status"] != "FINISHED":
        return JSONResponse({"status": schedule["status"], "message": WAITING}, status_code=202)
    device = sq.device_schedule(conn, schedule_id, sensor_id)
    if device is None:
        message = (
            f"A scheduling job has been processed with your job ID, but it holds no schedule for sensor {sensor_id}."
        )
        raise ApiError(400, "UNKNOWN_SCHEDULE", message, "id")
    try:
        values, start, window = schedule_window(schedule, device, window, unit or sensor["unit"], sensor["timezone"])
    except UnitError as exc:
        raise ApiError(422, "INVALID_UNIT", str(exc), "unit") from exc
    body = {
        "values": values,
        "start": start.isoformat(),
        "duration": format_duration(window),
        "unit": unit or sensor["unit"],
        "scheduler_info": {"scheduler": SCHEDULER_NAME},
        "scheduling_result": public_scheduling_result(schedule, sensor["timezone"]),
        "solver": solver_summary(schedule),
        "schedule": schedule_id,
        "superseded_by": device["superseded_by"],
        "status": "PROCESSED",
        "message": "Request has been processed.",
    }
    if schedule["notes"]:
        body["notes"] = schedule["notes"]
    return JSONResponse(body)


def _resolve_latest(conn: ReadConn, sensor_id: int, schedule_id: str) -> str:
    """The uuid asked for, or for ``latest`` the device's current schedule (404 when none)."""
    if schedule_id != LATEST:
        return schedule_id
    current = sq.current_device_schedule(conn, sensor_id)
    if current is None:
        raise ApiError(404, "UNKNOWN_SCHEDULE", f"No schedule has been computed for sensor {sensor_id} yet.", "id")
    return current["schedule_id"]


def _schedule_row(conn: ReadConn, consistency: Consistency, schedule_id: str) -> dict | None:
    """The schedule's row; when it is pending but its outcome is stored, wait for the projection."""
    row = sq.schedule_by_id(conn, schedule_id)
    parsed = as_uuid(schedule_id)
    if (row is None or row["status"] == "QUEUED") and parsed is not None and wait_for_outcome(consistency, parsed):
        conn.rollback()  # a fresh read transaction sees the projected row
        row = sq.schedule_by_id(conn, schedule_id)
    return row


def _duration(text: str | None) -> timedelta:
    if text is None:
        return GET_DEFAULT_DURATION
    try:
        value = parse_duration(text)
    except ValueError as exc:
        raise ApiError(422, "INVALID_DURATION", str(exc), "duration") from exc
    if value <= timedelta(0):
        raise ApiError(422, "INVALID_DURATION", "duration must be positive", "duration")
    return value
