"""Read model of accounts, users, assets and sensors (for auth, listings and look-ups).

A forgotten user (``UserForgotten``, :mod:`domain.personal_data`) has no row: the event deletes
it, and on a rebuild its registration reads ``email == "[erased]"`` and inserts nothing. A
forgotten account (``AccountForgotten``) keeps its rows; its private assets' coordinates are
``NULL`` and their address attributes ``"[erased]"`` (:mod:`projections.forgetting`)."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from domain import registry as ev
from domain.events import RecordedEvent
from domain.personal_data import UserForgotten
from domain.private_locations import AccountForgotten
from projections.forgetting import erase_private_locations, forget_user_rows, is_forgotten_registration

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
    sa.Column("password_hash", sa.String(255), nullable=False),  # deprecated, empty: see projections.credentials
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


_PARENT_OF = sa.select(assets.c.parent_asset_id).where(assets.c.id == sa.bindparam("asset_id"))


def _check_parent(conn: Connection, asset_id: int, parent_id: int | None) -> None:
    """ValueError (the event is skipped and recorded) when the parent is the asset or descends from it.

    The commands refuse such changes; this keeps the table a forest even for events that
    bypassed them. An unknown parent is kept (its registration may be in another partition).
    """
    seen = {asset_id}
    while parent_id is not None:
        if parent_id in seen:
            raise ValueError(f"parent_asset_id {parent_id} would make a cycle through asset {asset_id}")
        seen.add(parent_id)
        parent_id = conn.execute(_PARENT_OF, {"asset_id": parent_id}).scalar()


def _register_asset(conn: Connection, e: ev.AssetRegistered) -> None:
    _check_parent(conn, e.asset_id, e.parent_asset_id)
    _insert(assets, "asset_id")(conn, e)


def _change_asset(conn: Connection, e: ev.AssetChanged) -> None:
    if "parent_asset_id" in e.changes:
        _check_parent(conn, e.asset_id, e.changes["parent_asset_id"])
    _update(assets, "asset_id")(conn, e)


def _register_user(conn: Connection, e: ev.UserRegistered) -> None:
    if not is_forgotten_registration(e.model_dump()):  # else its key is gone, so is its row
        _insert(users, "user_id", active=True, password_hash="")(conn, e)


def _forget_user(conn: Connection, e: UserForgotten) -> None:
    forget_user_rows(conn, e.user_id, users.c.id)


def _forget_account(conn: Connection, e: AccountForgotten) -> None:
    erase_private_locations(conn, assets, e.account_id)


def _password_changed(conn: Connection, e: ev.UserPasswordChanged) -> None:
    """Nothing to do here: the hash is in the credentials projection."""


def _delete_asset(conn: Connection, e: ev.AssetDeleted) -> None:
    conn.execute(sensors.delete().where(sensors.c.asset_id == e.asset_id))
    conn.execute(assets.delete().where(assets.c.id == e.asset_id))


def _delete_account(conn: Connection, e: ev.AccountDeleted) -> None:
    conn.execute(accounts.delete().where(accounts.c.id == e.account_id))


def _delete_sensor(conn: Connection, e: ev.SensorDeleted) -> None:
    conn.execute(sensors.delete().where(sensors.c.id == e.sensor_id))


_HANDLERS = {
    "AccountRegistered": _insert(accounts, "account_id"),
    "AccountForgotten": _forget_account,
    "AccountChanged": _update(accounts, "account_id"),
    "AccountDeleted": _delete_account,
    # password_hash: kept (empty) for databases created before credentials moved to their own projection
    "UserRegistered": _register_user,
    "UserForgotten": _forget_user,
    "UserChanged": _update(users, "user_id"),
    "UserPasswordChanged": _password_changed,
    "AssetRegistered": _register_asset,
    "AssetChanged": _change_asset,
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
