"""Handlers of scheduling commands: post a UDI event, trigger a schedule, record an outcome.

* :func:`post_udi_event` — append a :class:`~domain.udi.UdiEventPosted` to ``udi-<asset>`` after
  the domain accepted it against the device's last UDI event (expected revision: two
  concurrent posts cannot both pass the "event ids increase" check).
* :func:`trigger_schedule` — append a :class:`~domain.schedules.ScheduleTriggered` to
  ``schedule-<id>`` and the job's ``JobRequested`` to ``job-<id>``. The schedule id derives from
  the trigger's event id; the scheduler re-appends the same ``JobRequested`` (same event id,
  stored once), so the job exists even if the process died between the two appends.
* :func:`record_schedule_computed` / :func:`record_schedule_failed` — what the scheduler
  appends: the outcome, the devices' power beliefs (source ``scheduler``) and the job's end,
  all with ids derived from the schedule id (a re-run stores nothing new).

Power is in kW, consumption positive (USEF); the beliefs are converted to each sensor's unit.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from commands.context import CommandContext, CommandError
from commands.readings import RecordSensorData, record_sensor_data
from domain.jobs import JobFailed, JobFinished, JobRequested, job_stream
from domain.ports.event_store import ANY, NO_STREAM, AppendResult, WrongExpectedRevision
from domain.registry import SensorRegistered
from domain.schedules import (
    ScheduleComputed,
    ScheduleFailed,
    ScheduleTriggered,
    beliefs_event_id,
    job_outcome_event_id,
    job_requested_event_id,
    outcome_event_id,
    schedule_id_for,
    schedule_stream,
    scheduling_result,
)
from domain.soc_readings import SocOutput
from domain.udi import UdiEventPosted, decide_udi_event, udi_stream

logger = logging.getLogger(__name__)


def post_udi_event(ctx: CommandContext, event: UdiEventPosted, attempts: int = 5) -> tuple[uuid.UUID, AppendResult]:
    """Append a UDI event; returns (schedule id, append result). Raises :class:`UdiError`."""
    stream = udi_stream(event.asset_id)
    for _ in range(attempts):
        last_recorded = ctx.store.read_stream(stream, from_revision=-1, backwards=True, limit=1)
        last = last_recorded[0].decode() if last_recorded else None
        decide_udi_event(last if isinstance(last, UdiEventPosted) else None, event)
        expected = last_recorded[0].stream_revision if last_recorded else NO_STREAM
        new = ctx.new_event(event)
        try:
            result = ctx.store.append(stream, [new], expected)
        except WrongExpectedRevision:
            continue  # someone else posted meanwhile: decide again against their event
        return schedule_id_for(new.event_id), result
    raise CommandError("CONFLICT", f"could not append the UDI event to {stream}", "event")


class TriggerSchedule(BaseModel):
    """A v3 schedule trigger, validated: the effective flex-model (one entry per device) and context."""

    asset_id: int
    sensor_id: int | None = None
    start: datetime
    duration: timedelta
    resolution: timedelta
    flex_model: list[dict[str, Any]]
    flex_context: dict[str, Any] = Field(default_factory=dict)
    prior: datetime | None = None
    force_new_job_creation: bool = False
    operator_schedules: dict[str, Any] = Field(default_factory=dict)
    """Issue 14: the MyEMS operator overrides in force for the devices' owners, by owner asset id. Part
    of the request hash only (a changed override is a new request); the scheduler reads them from the
    registry as of the trigger."""

    def request_hash(self) -> str:
        """Identifies identical requests (FlexMeasures re-uses their job unless forced)."""
        unhashed = {"force_new_job_creation"} | (set() if self.operator_schedules else {"operator_schedules"})
        payload = self.model_dump(mode="json", exclude=unhashed)
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def trigger_schedule(ctx: CommandContext, cmd: TriggerSchedule) -> tuple[uuid.UUID, AppendResult]:
    """Append the trigger and the job request; returns (schedule id = job id, last append)."""
    trigger_event_id = uuid.uuid4()
    schedule_id = schedule_id_for(trigger_event_id)
    event = ScheduleTriggered(
        schedule_id=schedule_id,
        asset_id=cmd.asset_id,
        sensor_id=cmd.sensor_id,
        start=cmd.start,
        duration_s=int(cmd.duration.total_seconds()),
        resolution_s=int(cmd.resolution.total_seconds()),
        flex_model=cmd.flex_model,
        flex_context=cmd.flex_context,
        prior=cmd.prior,
        force_new_job_creation=cmd.force_new_job_creation,
        request_hash=cmd.request_hash(),
    )
    ctx.store.append(schedule_stream(schedule_id), [ctx.new_event(event, trigger_event_id)], NO_STREAM)
    job = job_request(schedule_id, cmd.asset_id, cmd.sensor_id, {"trigger": "api", "start": cmd.start.isoformat()})
    result = ctx.store.append(job_stream(schedule_id), [ctx.new_event(job, job_requested_event_id(schedule_id))], ANY)
    return schedule_id, result


def job_request(schedule_id: uuid.UUID, asset_id: int, sensor_id: int | None, params: dict) -> JobRequested:
    return JobRequested(job_id=schedule_id, kind="schedule", asset_id=asset_id, sensor_id=sensor_id, params=params)


def record_schedule_computed(
    ctx: CommandContext,
    computed: ScheduleComputed,
    sensors: dict[int, SensorRegistered],
    belief_time: datetime,
    job: JobRequested,
    soc_outputs: Mapping[int, SocOutput] | None = None,
) -> int:
    """Append the schedule, then each device's power beliefs (and its planned state of charge on
    its state-of-charge sensor, ``soc_outputs`` per power sensor), then the job's end (in that
    order: a FINISHED job means the schedule and the beliefs are stored). Returns the global
    position of the last beliefs appended (0 when there were none)."""
    schedule_id = computed.schedule_id
    outcome = ctx.new_event(computed, outcome_event_id(schedule_id))
    ctx.store.append(schedule_stream(schedule_id), [outcome], ANY)
    resolution = timedelta(seconds=computed.resolution_s)
    beliefs_position = 0
    for device in computed.devices:
        command = RecordSensorData(
            sensor_id=device.sensor_id,
            start=computed.start,
            duration=resolution * len(device.power_kw),
            values=list(device.power_kw),
            unit="kW",
            source="scheduler",
            source_type="scheduler",
            prior=belief_time,
            event_id=beliefs_event_id(schedule_id, device.sensor_id),
        )
        appended = record_sensor_data(ctx, command, sensors[device.sensor_id])
        beliefs_position = max(beliefs_position, appended.global_position)
        output = (soc_outputs or {}).get(device.sensor_id)
        if output is not None and device.soc_kwh:
            appended = _record_planned_soc(ctx, computed, device.soc_kwh, output, belief_time)
            beliefs_position = max(beliefs_position, appended.global_position)
    message = "Scheduling job has finished."
    if computed.unmet:
        message += f" {len(computed.unmet)} soft constraint(s) could not be met; see scheduling_result."
    result = {
        "schedule": str(schedule_id),
        "sensors": [d.sensor_id for d in computed.devices],
        "start": computed.start.isoformat(),
        "resolution_s": computed.resolution_s,
        "cost_eur": computed.cost_eur,
        "scheduling_result": scheduling_result(computed),
    }
    finished = JobFinished(job_id=schedule_id, message=message, result=result)
    _append_job_end(ctx, job, finished)
    return beliefs_position


def _record_planned_soc(
    ctx: CommandContext, computed: ScheduleComputed, soc_kwh: list[float], output: SocOutput, belief_time: datetime
) -> AppendResult:
    """The planned state of charge at every step boundary (start .. end), source ``scheduler``."""
    sensor, values, unit = output.sensor, list(soc_kwh), "kWh"
    if sensor.unit == "%" and output.capacity_kwh:
        values, unit = [100.0 * v / output.capacity_kwh for v in values], "%"
    command = RecordSensorData(
        sensor_id=sensor.sensor_id,
        start=computed.start,
        duration=timedelta(seconds=computed.resolution_s) * len(values),
        values=values,
        unit=unit,
        source="scheduler",
        source_type="scheduler",
        prior=belief_time,
        event_id=beliefs_event_id(computed.schedule_id, sensor.sensor_id),
    )
    return record_sensor_data(ctx, command, sensor)


def record_schedule_failed(ctx: CommandContext, failed: ScheduleFailed, job: JobRequested) -> None:
    """Append the failure, then the job's failure (same reason and code)."""
    schedule_id = failed.schedule_id
    ctx.store.append(schedule_stream(schedule_id), [ctx.new_event(failed, outcome_event_id(schedule_id))], ANY)
    reason = f"Scheduling job failed with {failed.code}: {failed.reason}"
    logger.warning("schedule %s for asset %s failed: %s", schedule_id, failed.asset_id, reason)
    _append_job_end(ctx, job, JobFailed(job_id=schedule_id, code=failed.code, reason=reason))


def _append_job_end(ctx: CommandContext, job: JobRequested, end: JobFinished | JobFailed) -> None:
    schedule_id = job.job_id
    events = [
        ctx.new_event(job, job_requested_event_id(schedule_id)),  # stored once: the API may have appended it
        ctx.new_event(end, job_outcome_event_id(schedule_id)),
    ]
    ctx.store.append(job_stream(schedule_id), events, ANY)
