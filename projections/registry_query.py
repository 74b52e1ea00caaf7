"""Queries on the registry read model (accounts, users, assets, sensors); rows as dicts.

:func:`sensor_state` / :func:`asset_state` turn a row into the domain's state (the one place
that does), and :class:`ReadModelRegistry` is the read model as a
:class:`~domain.ports.registry.RegistryView`.
"""

from __future__ import annotations

import sqlalchemy as sa

from domain.devices import named_power_sensor
from domain.registry import AssetRegistered, SensorRegistered
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
    """The asset's power sensor row by :func:`domain.devices.named_power_sensor` (``None``: none)."""
    rows = list_sensors(conn, asset_id=asset["id"])
    found = named_power_sensor([sensor_state(r) for r in rows])
    return next(r for r in rows if r["id"] == found.sensor_id) if found is not None else None


def sensor_state(row: dict) -> SensorRegistered:
    """A sensor row as the domain's sensor state."""
    return SensorRegistered(
        sensor_id=row["id"], asset_id=row["asset_id"], name=row["name"], unit=row["unit"],
        event_resolution_s=row["event_resolution_s"], timezone=row["timezone"], attributes=row["attributes"],
    )  # fmt: skip


def asset_state(row: dict) -> AssetRegistered:
    """An asset row as the domain's asset state."""
    return AssetRegistered(
        asset_id=row["id"], account_id=row["account_id"], name=row["name"], asset_type=row["asset_type"],
        latitude=row["latitude"], longitude=row["longitude"], parent_asset_id=row["parent_asset_id"],
        attributes=row["attributes"] or {}, flex_context=row["flex_context"] or {},
        flex_model=row["flex_model"] or {}, sensors_to_show=row["sensors_to_show"] or [],
    )  # fmt: skip


class ReadModelRegistry:
    """The registry read model, as it is now, as a :class:`~domain.ports.registry.RegistryView`."""

    def __init__(self, conn: sa.Connection):
        self.conn = conn

    def asset(self, asset_id: int) -> AssetRegistered | None:
        row = asset_by_id(self.conn, asset_id)
        return asset_state(row) if row is not None else None

    def sensor(self, sensor_id: int) -> SensorRegistered | None:
        row = sensor_by_id(self.conn, sensor_id)
        return sensor_state(row) if row is not None else None

    def assets_of_account(self, account_id: int) -> list[AssetRegistered]:
        return [asset_state(r) for r in list_assets(self.conn, account_id)]

    def sensors_of_asset(self, asset_id: int) -> list[SensorRegistered]:
        return [sensor_state(r) for r in list_sensors(self.conn, asset_id=asset_id)]
