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


def _register_account(conn: Connection, e: ev.AccountRegistered) -> None:
    conn.execute(accounts.insert().values(id=e.account_id, name=e.name, roles=e.roles))


def _register_user(conn: Connection, e: ev.UserRegistered) -> None:
    values = e.model_dump()
    values["id"] = values.pop("user_id")
    conn.execute(users.insert().values(**values, active=True))


def _change_password(conn: Connection, e: ev.UserPasswordChanged) -> None:
    conn.execute(users.update().where(users.c.id == e.user_id).values(password_hash=e.password_hash))


def _register_asset(conn: Connection, e: ev.AssetRegistered) -> None:
    values = e.model_dump()
    values["id"] = values.pop("asset_id")
    conn.execute(assets.insert().values(**values))


def _change_asset(conn: Connection, e: ev.AssetChanged) -> None:
    conn.execute(assets.update().where(assets.c.id == e.asset_id).values(**e.changes))


def _delete_asset(conn: Connection, e: ev.AssetDeleted) -> None:
    conn.execute(sensors.delete().where(sensors.c.asset_id == e.asset_id))
    conn.execute(assets.delete().where(assets.c.id == e.asset_id))


def _register_sensor(conn: Connection, e: ev.SensorRegistered) -> None:
    values = e.model_dump()
    values["id"] = values.pop("sensor_id")
    conn.execute(sensors.insert().values(**values))


def _change_sensor(conn: Connection, e: ev.SensorChanged) -> None:
    conn.execute(sensors.update().where(sensors.c.id == e.sensor_id).values(**e.changes))


def _delete_sensor(conn: Connection, e: ev.SensorDeleted) -> None:
    conn.execute(sensors.delete().where(sensors.c.id == e.sensor_id))


_HANDLERS = {
    "AccountRegistered": _register_account,
    "UserRegistered": _register_user,
    "UserPasswordChanged": _change_password,
    "AssetRegistered": _register_asset,
    "AssetChanged": _change_asset,
    "AssetDeleted": _delete_asset,
    "SensorRegistered": _register_sensor,
    "SensorChanged": _change_sensor,
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
