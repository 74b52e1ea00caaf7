"""Schedules read model: each schedule's status and values, the UDI events that asked for them.

Tables:

* ``schedules`` — one row per schedule (QUEUED, then FINISHED or FAILED), with its grid
  (``start_s`` epoch seconds, ``resolution_s``, ``n_steps``), cost (EUR), unmet constraints
  and failure reason;
* ``schedule_devices`` — one row per schedule and device power sensor: ``power_kw`` per step
  (consumption positive, production negative), ``soc_kwh`` per instant, and
  ``superseded_by``: a newer schedule (by event order) for the same device supersedes an
  older one; both stay (history), the current one has ``superseded_by`` NULL;
* ``udi_events`` — the UDI events per device (asset) and the schedule each one triggered.

Events may arrive from two topics in any order. Schedule rows are upserted (a trigger never
downgrades an outcome's status), so applying a schedule's outcome before its trigger gives the
same row. UDI-event and device-schedule rows are plain inserts, one per event: a replay does not
insert them twice because the checkpoint is written in the same transaction and events at or
below it are skipped (a rebuild starts from empty tables).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from domain.beliefs import to_epoch_s
from domain.events import RecordedEvent
from domain.jobs import FAILED, FINISHED, QUEUED
from domain.schedules import (
    ScheduleComputed,
    ScheduleFailed,
    ScheduleTriggered,
    schedule_id_for,
    scheduling_result,
    solver_outcome,
)
from domain.udi import UdiEventPosted

metadata = sa.MetaData()
schedules = sa.Table(
    "schedules",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("trigger", sa.String(8), nullable=False),
    sa.Column("asset_id", sa.Integer, nullable=False),
    sa.Column("sensor_id", sa.Integer),
    sa.Column("udi_event_id", sa.BigInteger),
    sa.Column("request_hash", sa.String(64), index=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("start_s", sa.BigInteger),
    sa.Column("resolution_s", sa.Integer),
    sa.Column("n_steps", sa.Integer),
    sa.Column("cost_eur", sa.Float),
    sa.Column("result", sa.JSON),
    sa.Column("notes", sa.JSON),
    sa.Column("solver_status", sa.String(64)),
    sa.Column("code", sa.String(64)),
    sa.Column("reason", sa.Text),
    sa.Column("field", sa.String(255)),
    sa.Column("requested_position", sa.BigInteger),
    sa.Column("outcome_position", sa.BigInteger),
)
schedule_devices = sa.Table(
    "schedule_devices",
    metadata,
    sa.Column("schedule_id", sa.String(36), primary_key=True),
    sa.Column("sensor_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("power_kw", sa.JSON, nullable=False),
    sa.Column("soc_kwh", sa.JSON, nullable=False),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("superseded_by", sa.String(36)),
)
sa.Index("ix_schedule_devices_sensor", schedule_devices.c.sensor_id, schedule_devices.c.position)
udi_events = sa.Table(
    "udi_events",
    metadata,
    sa.Column("asset_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("udi_event_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("address", sa.String(255), nullable=False),
    sa.Column("event_type", sa.String(32), nullable=False),
    sa.Column("sensor_id", sa.Integer, nullable=False),
    sa.Column("schedule_id", sa.String(36), nullable=False),
    sa.Column("datetime", sa.String(40), nullable=False),
    sa.Column("soc_kwh", sa.Float, nullable=False),
    sa.Column("position", sa.BigInteger, nullable=False),
)


def _upsert_schedule(conn: Connection, schedule_id: str, values: dict, keep_status: bool = False) -> None:
    """Insert the schedule row, or update it (``keep_status``: a trigger never downgrades an outcome)."""
    exists = conn.execute(sa.select(schedules.c.status).where(schedules.c.id == schedule_id)).first()
    if exists is None:
        conn.execute(schedules.insert().values(id=schedule_id, **values))
        return
    if keep_status:
        values = {k: v for k, v in values.items() if k != "status"}
    conn.execute(schedules.update().where(schedules.c.id == schedule_id).values(**values))


def _on_udi_event(conn: Connection, recorded: RecordedEvent, event: UdiEventPosted) -> None:
    schedule_id = str(schedule_id_for(recorded.event_id))
    conn.execute(
        udi_events.insert().values(
            asset_id=event.asset_id,
            udi_event_id=event.udi_event_id,
            address=event.address,
            event_type=event.udi_type,
            sensor_id=event.sensor_id,
            schedule_id=schedule_id,
            datetime=event.datetime.isoformat(),
            soc_kwh=event.soc_kwh,
            position=recorded.global_position,
        )
    )
    _upsert_schedule(
        conn,
        schedule_id,
        {
            "trigger": "udi",
            "asset_id": event.asset_id,
            "sensor_id": event.sensor_id,
            "udi_event_id": event.udi_event_id,
            "status": QUEUED,
            "requested_position": recorded.global_position,
        },
        keep_status=True,
    )


def _on_triggered(conn: Connection, recorded: RecordedEvent, event: ScheduleTriggered) -> None:
    _upsert_schedule(
        conn,
        str(event.schedule_id),
        {
            "trigger": "api",
            "asset_id": event.asset_id,
            "sensor_id": event.sensor_id,
            "request_hash": event.request_hash,
            "status": QUEUED,
            "start_s": to_epoch_s(event.start),
            "resolution_s": event.resolution_s,
            "requested_position": recorded.global_position,
        },
        keep_status=True,
    )


def _on_computed(conn: Connection, recorded: RecordedEvent, event: ScheduleComputed) -> None:
    schedule_id = str(event.schedule_id)
    _upsert_schedule(
        conn,
        schedule_id,
        {
            "trigger": event.trigger,
            "asset_id": event.asset_id,
            "udi_event_id": event.udi_event_id,
            "status": FINISHED,
            "start_s": to_epoch_s(event.start),
            "resolution_s": event.resolution_s,
            "n_steps": event.n_steps,
            "cost_eur": event.cost_eur,
            "result": {**scheduling_result(event), "solver": solver_outcome(event)},
            "notes": event.notes,
            "solver_status": event.solver_status,
            "outcome_position": recorded.global_position,
        },
    )
    for device in event.devices:
        _insert_device(conn, schedule_id, device.sensor_id, device.power_kw, device.soc_kwh, recorded.global_position)


def _insert_device(conn: Connection, schedule_id: str, sensor_id: int, power_kw, soc_kwh, position: int) -> None:
    """Insert one device's schedule and keep ``superseded_by`` pointing at the next newer schedule."""
    c = schedule_devices.c
    newer = conn.execute(
        sa.select(c.schedule_id, c.position)
        .where(c.sensor_id == sensor_id, c.position > position)
        .order_by(c.position)
        .limit(1)
    ).first()
    conn.execute(
        schedule_devices.update()
        .where(c.sensor_id == sensor_id, c.position < position)
        .where(sa.or_(c.superseded_by.is_(None), c.superseded_by == (newer[0] if newer else None)))
        .values(superseded_by=schedule_id)
    )
    conn.execute(
        schedule_devices.insert().values(
            schedule_id=schedule_id,
            sensor_id=sensor_id,
            power_kw=list(power_kw),
            soc_kwh=list(soc_kwh),
            position=position,
            superseded_by=newer[0] if newer else None,
        )
    )


def _on_failed(conn: Connection, recorded: RecordedEvent, event: ScheduleFailed) -> None:
    _upsert_schedule(
        conn,
        str(event.schedule_id),
        {
            "trigger": event.trigger,
            "asset_id": event.asset_id,
            "udi_event_id": event.udi_event_id,
            "status": FAILED,
            "code": event.code,
            "reason": event.reason,
            "field": event.field,
            "outcome_position": recorded.global_position,
        },
    )


class SchedulesProjection:
    """Schedules, their device values and the UDI events behind them."""

    name = "schedules"
    event_types = frozenset({"UdiEventPosted", "ScheduleTriggered", "ScheduleComputed", "ScheduleFailed"})
    metadata = metadata

    def apply(self, conn: Connection, events: Sequence[RecordedEvent]) -> None:
        for recorded in events:
            event = recorded.decode()
            if isinstance(event, UdiEventPosted):
                _on_udi_event(conn, recorded, event)
            elif isinstance(event, ScheduleTriggered):
                _on_triggered(conn, recorded, event)
            elif isinstance(event, ScheduleComputed):
                _on_computed(conn, recorded, event)
            elif isinstance(event, ScheduleFailed):
                _on_failed(conn, recorded, event)


# -- queries ---------------------------------------------------------------------------------
def _one(conn: Connection, query) -> dict | None:
    row = conn.execute(query).mappings().first()
    return dict(row) if row else None


def schedule_by_id(conn: Connection, schedule_id: str) -> dict | None:
    return _one(conn, sa.select(schedules).where(schedules.c.id == schedule_id))


def device_schedule(conn: Connection, schedule_id: str, sensor_id: int) -> dict | None:
    c = schedule_devices.c
    return _one(conn, sa.select(schedule_devices).where(c.schedule_id == schedule_id, c.sensor_id == sensor_id))


def devices_of(conn: Connection, schedule_id: str) -> list[dict]:
    c = schedule_devices.c
    query = sa.select(schedule_devices).where(c.schedule_id == schedule_id).order_by(c.sensor_id)
    return [dict(r) for r in conn.execute(query).mappings()]


def current_device_schedule(conn: Connection, sensor_id: int) -> dict | None:
    """The schedule of a device that no newer schedule superseded."""
    c = schedule_devices.c
    query = sa.select(schedule_devices).where(c.sensor_id == sensor_id, c.superseded_by.is_(None))
    return _one(conn, query.order_by(c.position.desc()).limit(1))


def udi_event(conn: Connection, asset_id: int, udi_event_id: int) -> dict | None:
    c = udi_events.c
    return _one(conn, sa.select(udi_events).where(c.asset_id == asset_id, c.udi_event_id == udi_event_id))


def reusable_schedule(conn: Connection, request_hash: str) -> dict | None:
    """The newest schedule of an identical request that has not failed (FlexMeasures' job cache)."""
    c = schedules.c
    query = sa.select(schedules).where(c.request_hash == request_hash, c.status != FAILED)
    return _one(conn, query.order_by(c.requested_position.desc()).limit(1))
