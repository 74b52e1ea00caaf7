"""Read model of accounts, users, assets and sensors (for auth, listings and look-ups)."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from domain import registry as ev
from domain.events import RecordedEvent

metadata = sa.MetaData()
accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("roles", sa.JSON, nullable=False),
)
users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("account_id", sa.Integer, nullable=False, index=True),
    sa.Column("email", sa.String(255), nullable=False, unique=True),
    sa.Column("username", sa.String(255), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("roles", sa.JSON, nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
)
assets = sa.Table(
    "assets",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("account_id", sa.Integer, nullable=False, index=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("asset_type", sa.String(64), nullable=False),
    sa.Column("latitude", sa.Float),
    sa.Column("longitude", sa.Float),
    sa.Column("parent_asset_id", sa.Integer),
    sa.Column("attributes", sa.JSON, nullable=False),
    sa.Column("flex_context", sa.JSON, nullable=False),
    sa.Column("flex_model", sa.JSON, nullable=False),
    sa.Column("sensors_to_show", sa.JSON, nullable=False),
)
sensors = sa.Table(
    "sensors",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("asset_id", sa.Integer, nullable=False, index=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("unit", sa.String(64), nullable=False),
    sa.Column("event_resolution_s", sa.Integer, nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("attributes", sa.JSON, nullable=False),
)


def _insert(table: sa.Table, id_field: str, **extra):
    """Handler inserting a registration event as a row; its ``<kind>_id`` becomes ``id``."""

    def handle(conn: Connection, e) -> None:
        values = e.model_dump()
        values["id"] = values.pop(id_field)
        conn.execute(table.insert().values(**values, **extra))

    return handle


def _update(table: sa.Table, id_field: str):
    """Handler applying a change event's ``changes`` to the row."""

    def handle(conn: Connection, e) -> None:
        conn.execute(table.update().where(table.c.id == getattr(e, id_field)).values(**e.changes))

    return handle


def _change_password(conn: Connection, e: ev.UserPasswordChanged) -> None:
    conn.execute(users.update().where(users.c.id == e.user_id).values(password_hash=e.password_hash))


def _delete_asset(conn: Connection, e: ev.AssetDeleted) -> None:
    conn.execute(sensors.delete().where(sensors.c.asset_id == e.asset_id))
    conn.execute(assets.delete().where(assets.c.id == e.asset_id))


def _delete_sensor(conn: Connection, e: ev.SensorDeleted) -> None:
    conn.execute(sensors.delete().where(sensors.c.id == e.sensor_id))


_HANDLERS = {
    "AccountRegistered": _insert(accounts, "account_id"),
    "UserRegistered": _insert(users, "user_id", active=True),
    "UserPasswordChanged": _change_password,
    "AssetRegistered": _insert(assets, "asset_id"),
    "AssetChanged": _update(assets, "asset_id"),
    "AssetDeleted": _delete_asset,
    "SensorRegistered": _insert(sensors, "sensor_id"),
    "SensorChanged": _update(sensors, "sensor_id"),
    "SensorDeleted": _delete_sensor,
}


class RegistryProjection:
    """Accounts, users, assets and sensors tables."""

    name = "registry"
    event_types = frozenset(_HANDLERS)
    metadata = metadata

    def apply(self, conn: Connection, events: Sequence[RecordedEvent]) -> None:
        for event in events:
            _HANDLERS[event.type](conn, event.decode())
