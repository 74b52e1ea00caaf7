"""Time travel for auditors: read models as of a past position or time (read only).

* ``GET /api/audit/as-of/assets/{id}`` — the asset (name, attributes, flex-model, flex-context,
  ...) as it was; ``GET /api/audit/as-of/sensors/{id}`` — the sensor.
* ``GET /api/audit/as-of/sensors/{id}/schedule`` — the schedule that was current for that
  device (power sensor) then: the ``ScheduleComputed`` event.

"Then" is ``position`` (a global position), ``time`` (recorded-at, timezone-aware) or
``event_id`` (as of that event's position: e.g. the flex-model in force when a schedule was
made); combinations count only events satisfying all. Without any: now.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime

from api.audit_services import AuditServices
from api.deps import Audit, User
from api.errors import ApiError
from api.stream_access import may_see_owner
from domain.disclosure import public_view, redact_credentials
from domain.time_travel import AsOf, entity_as_of, schedule_as_of

router = APIRouter(prefix="/api/audit/as-of", tags=["audit"])


def _as_of(
    audit: Audit,
    user: User,
    position: Annotated[int | None, Query(ge=0)] = None,
    time: AwareDatetime | None = None,
    event_id: uuid.UUID | None = None,
) -> AsOf:
    if event_id is not None:
        event = audit.store.get_event(event_id)
        if event is None:
            raise ApiError(404, "UNKNOWN_EVENT", f"no event {event_id}", "event_id")
        if not may_see_owner(user, audit.resolver.owner_of(event)):
            raise ApiError(403, "INVALID_SENDER", "this event belongs to another account", "event_id")
        position = event.global_position if position is None else min(position, event.global_position)
    return AsOf(position, time)


When = Annotated[AsOf, Depends(_as_of)]


def _check(user, resolver, kind: str, entity_id: int) -> None:
    owner = resolver.owner_of_stream(f"{kind}-{entity_id}")
    if owner.account_id is None:
        raise ApiError(404, f"UNRECOGNIZED_{kind.upper()}", f"no {kind} with id {entity_id}", "id")
    if not may_see_owner(user, owner):
        raise ApiError(403, "INVALID_SENDER", f"this {kind} belongs to another account", "id")


def _entity(audit: AuditServices, user, kind: str, entity_id: int, at: AsOf) -> dict:
    _check(user, audit.resolver, kind, entity_id)
    found = entity_as_of(audit.store, f"{kind}-{entity_id}", at)
    return {
        "as_of": {"position": at.position, "time": at.time.isoformat() if at.time else None},
        kind: redact_credentials(found.state.to_data()) if found.state is not None else None,
        "last_event": public_view(found.last_event) if found.last_event else None,
    }


@router.get("/assets/{asset_id}")
def asset_as_of(asset_id: int, user: User, audit: Audit, at: When) -> dict:
    """The asset as it was at ``position``, ``time`` or ``event_id`` (default: now)."""
    return _entity(audit, user, "asset", asset_id, at)


@router.get("/sensors/{sensor_id}")
def sensor_as_of(sensor_id: int, user: User, audit: Audit, at: When) -> dict:
    """The sensor as it was at ``position``, ``time`` or ``event_id`` (default: now)."""
    return _entity(audit, user, "sensor", sensor_id, at)


@router.get("/sensors/{sensor_id}/schedule")
def device_schedule_as_of(sensor_id: int, user: User, audit: Audit, at: When) -> dict:
    """The schedule that was current for the device (its power sensor) at that moment: the
    ``ScheduleComputed`` event, or ``null``."""
    _check(user, audit.resolver, "sensor", sensor_id)
    found = schedule_as_of(audit.store, sensor_id, at)
    return {
        "as_of": {"position": at.position, "time": at.time.isoformat() if at.time else None},
        "schedule": public_view(found.schedule) if found.schedule else None,
        "complete": found.complete,
    }
