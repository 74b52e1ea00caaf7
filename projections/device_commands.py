"""Read model of device commands: one row per command with its current status.

Queries filter by device (asset), account, status and creation time, in creation order
(the global position of the request), paged with an opaque continuation token. Times are
stored as UTC ISO strings with microseconds (``...T12:00:00.000000Z``), so they compare as text.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from domain import device_commands as dc
from domain.events import RecordedEvent

metadata = sa.MetaData()
device_commands = sa.Table(
    "device_commands",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False, index=True),
    sa.Column("asset_id", sa.Integer, nullable=False, index=True),
    sa.Column("account_id", sa.Integer, nullable=False, index=True),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("parameters", sa.JSON, nullable=False),
    sa.Column("device", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("status_reason", sa.Text),
    sa.Column("response", sa.JSON),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("execute_at", sa.String(32), nullable=False),
    sa.Column("expires_at", sa.String(32), nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("updated_at", sa.String(32), nullable=False),
    sa.Column("idempotency_key", sa.String(255)),
    sa.Column("reason", sa.Text),
    sa.Column("actor", sa.String(64)),
    sa.Column("correlation_id", sa.String(128)),
)


def utc_text(value: datetime) -> str:
    """A timezone-aware datetime as sortable UTC text."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _requested_row(recorded: RecordedEvent, event: dc.DeviceCommandRequested) -> dict:
    return {
        "id": str(event.command_id), "position": recorded.global_position, "asset_id": event.asset_id,
        "account_id": event.account_id, "action": event.action, "parameters": event.parameters,
        "device": event.device, "status": dc.REQUESTED, "status_reason": None, "response": None, "attempts": 0,
        "execute_at": utc_text(event.execute_at), "expires_at": utc_text(event.expires_at),
        "created_at": utc_text(event.requested_at), "updated_at": utc_text(event.requested_at),
        "idempotency_key": event.idempotency_key, "reason": event.reason, "actor": recorded.metadata.actor,
        "correlation_id": recorded.metadata.correlation_id,
    }


def _changes(event) -> dict | None:
    """The columns an outcome event changes (``None``: not a lifecycle outcome)."""
    match event:
        case dc.DeviceCommandScheduled():
            return {"status": dc.SCHEDULED, "status_reason": event.reason, "execute_at": utc_text(event.execute_at)}
        case dc.DeviceCommandDispatched():
            return {"status": dc.DISPATCHED, "attempts": event.attempt, "updated_at": utc_text(event.dispatched_at)}
        case dc.DeviceCommandAcknowledged():
            return {"status": dc.ACKNOWLEDGED, "response": event.response, "updated_at": utc_text(event.at)}
        case dc.DeviceCommandRejected():
            return {"status": dc.REJECTED, "response": event.response, "status_reason": event.reason,
                    "updated_at": utc_text(event.at)}
        case dc.DeviceCommandFailed() | dc.DeviceCommandExpired() | dc.DeviceCommandCancelled():
            status = {dc.DeviceCommandFailed: dc.FAILED, dc.DeviceCommandExpired: dc.EXPIRED}.get(
                type(event), dc.CANCELLED
            )
            return {"status": status, "status_reason": event.reason, "updated_at": utc_text(event.at)}
    return None


class DeviceCommandsProjection:
    name = "device_commands"
    event_types = dc.COMMAND_EVENT_TYPES
    metadata = metadata

    def apply(self, conn: Connection, events: Sequence[RecordedEvent]) -> None:
        for recorded in events:
            event = recorded.decode()
            if isinstance(event, dc.DeviceCommandRequested):
                exists = conn.execute(
                    sa.select(device_commands.c.id).where(device_commands.c.id == str(event.command_id))
                ).first()
                if exists is None:
                    conn.execute(device_commands.insert().values(**_requested_row(recorded, event)))
                continue
            changes = _changes(event)
            if changes:
                conn.execute(
                    device_commands.update().where(device_commands.c.id == str(event.command_id)).values(**changes)
                )


class InvalidToken(ValueError):
    """A continuation token that this read model did not issue."""


def encode_token(position: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": position}).encode()).decode().rstrip("=")


def decode_token(token: str) -> int:
    try:
        padded = token + "=" * (-len(token) % 4)
        position = json.loads(base64.urlsafe_b64decode(padded.encode()))["after"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise InvalidToken("invalid continuationToken") from exc
    if not isinstance(position, int) or position < 0:
        raise InvalidToken("invalid continuationToken")
    return position


@dataclass(frozen=True)
class CommandFilter:
    """Which commands to list; ``created_from`` inclusive, ``created_to`` exclusive (aware datetimes)."""

    asset_id: int | None = None
    account_id: int | None = None
    statuses: tuple[str, ...] = ()
    created_from: datetime | None = None
    created_to: datetime | None = None


def list_commands(
    conn: Connection, where: CommandFilter, page_size: int, token: str | None = None
) -> tuple[list[dict], str | None]:
    """One page of commands in creation order and the token of the next page (``None``: last page)."""
    c = device_commands.c
    query = sa.select(device_commands).order_by(c.position).limit(page_size + 1)
    conditions = [
        (where.asset_id is not None, lambda: c.asset_id == where.asset_id),
        (where.account_id is not None, lambda: c.account_id == where.account_id),
        (bool(where.statuses), lambda: c.status.in_(where.statuses)),
        (where.created_from is not None, lambda: c.created_at >= utc_text(where.created_from)),
        (where.created_to is not None, lambda: c.created_at < utc_text(where.created_to)),
        (token is not None, lambda: c.position > decode_token(token)),
    ]
    for applies, condition in conditions:
        if applies:
            query = query.where(condition())
    rows = [dict(r) for r in conn.execute(query).mappings()]
    if len(rows) > page_size:
        return rows[:page_size], encode_token(rows[page_size - 1]["position"])
    return rows, None


def command_by_id(conn: Connection, command_id: str) -> dict | None:
    row = conn.execute(sa.select(device_commands).where(device_commands.c.id == command_id)).mappings().first()
    return dict(row) if row else None


def open_commands(conn: Connection) -> list[str]:
    """Ids of commands that are not finished (requested, scheduled, dispatched)."""
    query = sa.select(device_commands.c.id).where(device_commands.c.status.in_(sorted(dc.OPEN_STATUSES)))
    return [row[0] for row in conn.execute(query)]


def pending_commands(conn: Connection, asset_id: int) -> list[tuple[str, str]]:
    """(id, reason) of the device's commands not dispatched yet (requested or scheduled)."""
    c = device_commands.c
    query = sa.select(c.id, c.reason).where(c.asset_id == asset_id, c.status.in_(sorted(dc.CANCELLABLE_STATUSES)))
    return [(row[0], row[1]) for row in conn.execute(query)]
