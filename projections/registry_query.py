"""Queries on the registry read model (accounts, users, assets, sensors); rows as dicts."""

from __future__ import annotations

import sqlalchemy as sa

from domain.units import is_power_unit_or_false
from projections.registry import accounts, assets, sensors, users


def _one(conn: sa.Connection, query, params: dict | None = None) -> dict | None:
    row = conn.execute(query, params).mappings().first()
    return dict(row) if row else None


def _all(conn: sa.Connection, query) -> list[dict]:
    return [dict(r) for r in conn.execute(query).mappings()]


_SENSOR_BY_ID = (  # built once: every sensor-data post looks its sensor up
    sa.select(sensors, assets.c.account_id)
    .join(assets, assets.c.id == sensors.c.asset_id)
    .where(sensors.c.id == sa.bindparam("sensor_id"))
)
_USER_BY_ID = sa.select(users).where(users.c.id == sa.bindparam("user_id"))


def user_by_email(conn: sa.Connection, email: str) -> dict | None:
    return _one(conn, sa.select(users).where(users.c.email == email.lower()))


def user_by_id(conn: sa.Connection, user_id: int) -> dict | None:
    return _one(conn, _USER_BY_ID, {"user_id": user_id})


def list_users(conn: sa.Connection, account_id: int | None = None) -> list[dict]:
    query = sa.select(users).order_by(users.c.id)
    if account_id is not None:
        query = query.where(users.c.account_id == account_id)
    return _all(conn, query)


def account_by_id(conn: sa.Connection, account_id: int) -> dict | None:
    return _one(conn, sa.select(accounts).where(accounts.c.id == account_id))


def account_by_name(conn: sa.Connection, name: str) -> dict | None:
    return _one(conn, sa.select(accounts).where(accounts.c.name == name))


def list_accounts(conn: sa.Connection) -> list[dict]:
    return _all(conn, sa.select(accounts).order_by(accounts.c.id))


def asset_by_id(conn: sa.Connection, asset_id: int) -> dict | None:
    return _one(conn, sa.select(assets).where(assets.c.id == asset_id))


def list_assets(conn: sa.Connection, account_id: int | None = None, descending: bool = False) -> list[dict]:
    order = assets.c.id.desc() if descending else assets.c.id
    query = sa.select(assets).order_by(order)
    if account_id is not None:
        query = query.where(assets.c.account_id == account_id)
    return _all(conn, query)


def sensor_by_id(conn: sa.Connection, sensor_id: int) -> dict | None:
    return _one(conn, _SENSOR_BY_ID, {"sensor_id": sensor_id})


def list_sensors(conn: sa.Connection, account_id: int | None = None, asset_id: int | None = None) -> list[dict]:
    query = sa.select(sensors, assets.c.account_id).join(assets, assets.c.id == sensors.c.asset_id)
    if account_id is not None:
        query = query.where(assets.c.account_id == account_id)
    if asset_id is not None:
        query = query.where(sensors.c.asset_id == asset_id)
    return _all(conn, query.order_by(sensors.c.id))


def device_power_sensor(conn: sa.Connection, asset: dict) -> dict | None:
    """The asset's power sensor: among its sensors with a unit of power, the one named ``power``
    (case-insensitive; the lowest id if several), else the only one; ``None`` otherwise."""
    found = [s for s in list_sensors(conn, asset_id=asset["id"]) if is_power_unit_or_false(s["unit"])]
    named = [s for s in found if s["name"].strip().lower() == "power"]
    if named:
        return named[0]
    return found[0] if len(found) == 1 else None
