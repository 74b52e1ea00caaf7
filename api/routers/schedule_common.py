"""Shared by the v2.0 control and v3 schedule endpoints: waiting for the scheduler, slicing values.

**Read-your-writes for schedules.** After a trigger (or a UDI event) was appended at position
``P``, :func:`wait_for_schedule` waits (bounded by ``FLEXLEDGER_CONSISTENCY_TIMEOUT_S``) until the
scheduler has stored the outcome event — whose id is known in advance (:mod:`domain.schedules`)
— and the schedules (and jobs) projection has applied it. Waiting on those exact events (not
on the store's head) returns as soon as the schedule is servable. With
``FLEXLEDGER_CONSISTENT_WRITES=false`` or when the deployment's waiter cannot follow the
scheduler (processors in workers) it returns at once and the
client polls (202 / ``UNKNOWN_SCHEDULE`` "waiting to be processed").
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from api.consistency import ReadYourWrites
from domain.jobs import job_stream
from domain.ports.event_store import EventStore
from domain.schedules import job_outcome_event_id, outcome_event_id, reported_status, schedule_stream
from domain.units import UnitError, convert_values, is_power_unit

SCHEDULER = "scheduler"
SCHEDULES_PROJECTION = "projection.schedules"
JOBS_PROJECTION = "projection.jobs"
WAITING = "Scheduling job waiting to be processed."


def _can_wait(consistency: ReadYourWrites) -> bool:
    return consistency.consistent_writes and consistency.waiter.follows(
        (SCHEDULER, SCHEDULES_PROJECTION, JOBS_PROJECTION)
    )


def wait_for_schedule(
    consistency: ReadYourWrites, schedule_id: uuid.UUID, trigger_position: int, with_job: bool = False
) -> bool:
    """Block (bounded) until the schedule's outcome (and with ``with_job`` its job's end) is queryable.

    Waits for the outcome event itself — its id is known in advance — rather than for the
    scheduler to finish the trigger, so the devices' beliefs and the job's end (appended after
    the outcome) stay off the critical path of ``postUdiEvent``. True when queryable.
    """
    if not _can_wait(consistency):
        return False
    deadline = time.monotonic() + consistency.timeout_s
    waits = [(schedule_stream(schedule_id), outcome_event_id(schedule_id), SCHEDULES_PROJECTION)]
    if with_job:
        waits.append((job_stream(schedule_id), job_outcome_event_id(schedule_id), JOBS_PROJECTION))
    for stream_id, event_id, projection in waits:
        position = _wait_stored(consistency.store, stream_id, event_id, trigger_position, deadline)
        remaining = max(0.0, deadline - time.monotonic())
        if position is None or not consistency.waiter.wait_for(position, [projection], remaining):
            return False
    return True


def stored_position(store: EventStore, stream_id: str, event_id: uuid.UUID) -> int | None:
    """The global position of ``event_id`` in ``stream_id`` (a schedule's or job's short stream;
    read by stream, not looked up by id, which is a full scan on KurrentDB)."""
    return next((r.global_position for r in store.read_stream(stream_id) if r.event_id == event_id), None)


def _wait_stored(store: EventStore, stream_id: str, event_id: uuid.UUID, after: int, deadline: float) -> int | None:
    """The global position of ``event_id`` once it is stored in ``stream_id`` (None at the deadline)."""
    seen = after
    while True:
        position = stored_position(store, stream_id, event_id)
        if position is not None:
            return position
        head = store.head_position()
        if head > seen:  # something new was appended since the last look: look again
            seen = head
            continue
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        store.wait_for_append(seen, remaining)


def wait_for_outcome(consistency: ReadYourWrites, schedule_id: uuid.UUID) -> bool:
    """If the outcome is stored, block (bounded) until the projections show it; True when they do."""
    if not _can_wait(consistency):
        return False
    store = consistency.store
    outcome = stored_position(store, schedule_stream(schedule_id), outcome_event_id(schedule_id))
    job_end = stored_position(store, job_stream(schedule_id), job_outcome_event_id(schedule_id))
    if outcome is None:
        return False
    waits = [(outcome, SCHEDULES_PROJECTION)]
    if job_end is not None:
        waits.append((job_end, JOBS_PROJECTION))
    return all(consistency.waiter.wait_for(position, [name]) for position, name in waits)


def as_uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(text))
    except ValueError:
        return None


def failure_message(row: dict) -> str:
    """FlexMeasures' wording for a failed scheduling job, with flexledger's stable code."""
    field = f" (field {row['field']})" if row.get("field") else ""
    return f"Scheduling job failed with {row['code']}: {row['reason']}{field}"


def schedule_window(
    schedule: dict, device: dict, duration: timedelta, unit: str, timezone: str = "UTC"
) -> tuple[list[float], datetime, timedelta]:
    """(values in ``unit``, start, duration) of one device's schedule, cut to ``duration``.

    The window starts at the schedule's start and covers at most the schedule's length
    (FlexMeasures: ``duration = min(duration, schedule end - start)``), in whole steps.
    Raises :class:`UnitError` when ``unit`` is not a unit of power.
    """
    if not is_power_unit(unit):
        raise UnitError(f"{unit!r} is not a unit of power (W, kW, MW ...)")
    resolution = timedelta(seconds=schedule["resolution_s"])
    steps = min(int(duration / resolution), len(device["power_kw"]))
    values = convert_values(device["power_kw"][:steps], "kW", unit)
    start = datetime.fromtimestamp(schedule["start_s"], UTC).astimezone(ZoneInfo(timezone))
    return [float(v) for v in values], start, resolution * steps


def public_scheduling_result(schedule: dict, timezone: str = "UTC") -> dict:
    """FlexMeasures' ``scheduling_result`` of a schedule row (unresolved / resolved constraints),
    with datetimes in ``timezone`` — the same convention as the schedule's ``start``."""
    result = schedule.get("result") or {}
    zone = ZoneInfo(timezone)
    unresolved = []
    for item in result.get("unresolved", []):
        moment = item.get("datetime")
        if moment:
            item = {**item, "datetime": datetime.fromisoformat(moment).astimezone(zone).isoformat()}
        unresolved.append(item)
    return {"unresolved": unresolved, "resolved": result.get("resolved", [])}


def solver_summary(schedule: dict) -> dict:
    """``status`` (optimal / feasible / infeasible-relaxed), proven relative ``gap`` (null when
    unknown), energy ``cost_eur`` over the horizon and the number of ``unmet_constraints``."""
    stored = (schedule.get("result") or {}).get("solver")
    if stored:
        return stored
    n_unmet = len((schedule.get("result") or {}).get("unresolved", []))
    return {"status": reported_status(schedule.get("solver_status") or "", n_unmet), "gap": None,
            "cost_eur": schedule.get("cost_eur"), "unmet_constraints": n_unmet}  # fmt: skip
