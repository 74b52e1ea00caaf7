"""Schedules: asked for by a client (v3), a UDI event (v2.0) or a state-of-charge reading; solved by the scheduler.

Streams and ids — everything is derived from the event that triggered the schedule, so that
replaying history appends nothing new:

* the schedule id is ``uuid5(SCHEDULE_NAMESPACE, <trigger event id>)`` (the trigger is a
  :class:`ScheduleTriggered`, a :class:`domain.udi.UdiEventPosted` or a state-of-charge reading's
  ``SensorDataRecorded``, see :mod:`domain.soc_readings`);
* stream ``schedule-<schedule id>`` holds the trigger (v3) and the outcome: one
  :class:`ScheduleComputed` or :class:`ScheduleFailed`, both with event id
  :func:`outcome_event_id` (whichever is stored first is the outcome, a re-run adds nothing);
* the job (``job-<schedule id>``, shared with forecasting) gets ``JobRequested`` and
  ``JobFinished``/``JobFailed`` with ids :func:`job_requested_event_id` / :func:`job_outcome_event_id`;
* the devices' power values are also beliefs of source ``scheduler`` on each power sensor
  (``SensorDataRecorded`` with event id :func:`beliefs_event_id`).

Power is in kW, consumption positive and production negative (USEF); state of charge in kWh;
cost in EUR (positive: a cost, negative: revenue). Times are timezone-aware.
"""

from __future__ import annotations

import datetime as dt
import uuid
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from domain.events import DomainEvent, register_event

SCHEDULE_NAMESPACE = uuid.UUID("5a0f3f1e-6c2b-4b8e-9f55-2f1d1c1e5c42")
SCHEDULER_SOURCE = "scheduler"
SCHEDULER_SOURCE_TYPE = "scheduler"
SCHEDULER_NAME = "flexledger MILP (OR-Tools)"
TriggerKind = Literal["api", "udi", "reading"]
"""What asked for a schedule: a v3 trigger, a v2.0 UDI event, or a state-of-charge reading."""


def schedule_stream(schedule_id: uuid.UUID | str) -> str:
    return f"schedule-{schedule_id}"


def schedule_id_for(trigger_event_id: uuid.UUID) -> uuid.UUID:
    """The schedule id of the schedule a trigger event asks for."""
    return uuid.uuid5(SCHEDULE_NAMESPACE, str(trigger_event_id))


def outcome_event_id(schedule_id: uuid.UUID) -> uuid.UUID:
    """Event id of the schedule's outcome (ScheduleComputed or ScheduleFailed)."""
    return uuid.uuid5(schedule_id, "outcome")


def job_requested_event_id(schedule_id: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(schedule_id, "job-requested")


def job_outcome_event_id(schedule_id: uuid.UUID) -> uuid.UUID:
    """Event id of the job's JobFinished or JobFailed."""
    return uuid.uuid5(schedule_id, "job-outcome")


def beliefs_event_id(schedule_id: uuid.UUID, sensor_id: int) -> uuid.UUID:
    """Idempotency key of the scheduler's beliefs on one power sensor."""
    return uuid.uuid5(schedule_id, f"beliefs-{sensor_id}")


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("datetime must be timezone-aware")
    return value


@register_event
class ScheduleTriggered(DomainEvent):
    """A client asked for a schedule of the devices in ``flex_model`` (v3 trigger).

    ``flex_model`` (one entry per device, each naming its power ``sensor``) and ``flex_context``
    are the effective ones: the request merged over what the registry held at trigger time.
    ``request_hash`` identifies identical requests (re-used unless ``force_new_job_creation``).
    """

    schedule_id: uuid.UUID
    asset_id: int
    sensor_id: int | None = None
    start: dt.datetime
    duration_s: int
    resolution_s: int
    flex_model: list[dict[str, Any]]
    flex_context: dict[str, Any] = Field(default_factory=dict)
    prior: dt.datetime | None = None
    force_new_job_creation: bool = False
    request_hash: str

    _check_times = field_validator("start", "prior")(_aware)

    @property
    def duration(self) -> timedelta:
        return timedelta(seconds=self.duration_s)


class DeviceSchedule(BaseModel):
    """One device's planned power (kW per step, consumption positive) and state of charge (kWh).

    ``soc_kwh`` has one value per instant (``len(power_kw) + 1``: the start of each step and the
    end of the last), or is empty for devices without storage.
    """

    model_config = ConfigDict(frozen=True)

    sensor_id: int
    power_kw: list[float]
    soc_kwh: list[float] = Field(default_factory=list)


class UnmetConstraint(BaseModel):
    """A soft constraint the schedule could not meet, and by how much (``amount`` in ``unit``)."""

    model_config = ConfigDict(frozen=True)

    sensor_id: int | None = None
    constraint: str
    datetime: dt.datetime | None = None
    amount: float
    unit: str
    message: str = ""


@register_event
class ScheduleComputed(DomainEvent):
    """The scheduler computed a schedule: power per device per step of ``resolution_s`` from ``start``.

    ``unmet`` lists the soft constraints (targets, minima, ...) the schedule could not meet;
    ``cost_eur`` is the energy cost over the horizon; ``solver_status`` (``optimal`` /
    ``feasible``) and ``mip_gap`` (relative, between the objective and the bound the solver
    proved; ``None`` when unknown) say how good the schedule is; ``notes`` are human-readable remarks
    (e.g. prices filled in). A newer schedule supersedes an older one per device.
    """

    schedule_id: uuid.UUID
    trigger: TriggerKind
    asset_id: int
    udi_event_id: int | None = None
    start: dt.datetime
    resolution_s: int
    devices: list[DeviceSchedule]
    cost_eur: float | None = None
    unmet: list[UnmetConstraint] = Field(default_factory=list)
    solver_status: str = ""
    mip_gap: float | None = None
    notes: list[str] = Field(default_factory=list)

    _check_times = field_validator("start")(_aware)

    @property
    def n_steps(self) -> int:
        return len(self.devices[0].power_kw) if self.devices else 0


@register_event
class ScheduleFailed(DomainEvent):
    """The scheduler could not compute a schedule; ``code`` is stable, ``reason`` for humans."""

    schedule_id: uuid.UUID
    trigger: TriggerKind
    asset_id: int
    udi_event_id: int | None = None
    sensor_ids: list[int] = Field(default_factory=list)
    code: str
    reason: str
    field: str | None = None


def reported_status(solver_status: str, n_unmet: int) -> str:
    """The status a schedule response states: ``optimal``, ``feasible`` (with a gap) or
    ``infeasible-relaxed`` (optimal, yet constraints are unmet: they could not all be met, so
    they were relaxed at a breach price and the breach is listed)."""
    if solver_status == "optimal" and n_unmet:
        return "infeasible-relaxed"
    return solver_status or "unknown"


def solver_outcome(event: ScheduleComputed) -> dict[str, Any]:
    """Status, proven relative gap, energy cost (EUR over the horizon) and unmet count of a schedule."""
    gap = event.mip_gap if event.mip_gap is not None and event.mip_gap == event.mip_gap else None  # NaN -> None
    return {
        "status": reported_status(event.solver_status, len(event.unmet)),
        "gap": gap,
        "cost_eur": event.cost_eur,
        "unmet_constraints": len(event.unmet),
    }


def scheduling_result(event: ScheduleComputed) -> dict[str, Any]:
    """The job result / schedule response part about soft constraints (FlexMeasures' shape).

    ``unresolved`` lists the constraints not met (with the shortfall), ``resolved`` is empty:
    flexledger reports only what was not met.
    """
    unresolved = [
        {
            "sensor": u.sensor_id,
            "constraint": u.constraint,
            "datetime": u.datetime.isoformat() if u.datetime else None,
            "violation": f"{u.amount:g} {u.unit}",
            "amount": u.amount,
            "unit": u.unit,
            "message": u.message,
        }
        for u in event.unmet
    ]
    return {"unresolved": unresolved, "resolved": []}
