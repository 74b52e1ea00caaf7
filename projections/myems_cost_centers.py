"""Read model of MyEMS cost centers (see :mod:`domain.myems_cost_centers`): each account's
external id and the tariffs bound to it. A tariff is bound to its account's cost center when
defined and unbound when deleted; binding events change that in between."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from domain import myems_cost_centers as cc
from domain import registry as ev
from domain import tariffs as tf
from domain.events import RecordedEvent
from projections.myems_tariffs import myems_tariffs

metadata = sa.MetaData()
myems_cost_centers = sa.Table(
    "myems_cost_centers",
    metadata,
    sa.Column("account_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("external_id", sa.String(255), nullable=True),
)
myems_cost_center_tariffs = sa.Table(
    "myems_cost_center_tariffs",
    metadata,
    sa.Column("account_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("tariff_id", sa.Integer, primary_key=True, autoincrement=False),
)


def _bind(conn: Connection, account_id: int, tariff_id: int) -> None:
    _unbind(conn, account_id, tariff_id)  # idempotent on replay
    conn.execute(myems_cost_center_tariffs.insert().values(account_id=account_id, tariff_id=tariff_id))


def _unbind(conn: Connection, account_id: int, tariff_id: int) -> None:
    t = myems_cost_center_tariffs.c
    conn.execute(myems_cost_center_tariffs.delete().where(t.account_id == account_id, t.tariff_id == tariff_id))


def _forget_account(conn: Connection, account_id: int) -> None:
    conn.execute(myems_cost_centers.delete().where(myems_cost_centers.c.account_id == account_id))
    conn.execute(myems_cost_center_tariffs.delete().where(myems_cost_center_tariffs.c.account_id == account_id))


class MyEmsCostCentersProjection:
    name = "myems_cost_centers"
    event_types = frozenset({"MyEmsCostCenterExternalIdSet", "MyEmsCostCenterTariffBound",
                             "MyEmsCostCenterTariffUnbound", "MyEmsTariffDefined", "MyEmsTariffDeleted",
                             "AccountDeleted"})  # fmt: skip
    metadata = metadata

    def apply(self, conn: Connection, events: Sequence[RecordedEvent]) -> None:
        for recorded in events:
            event = recorded.decode()
            if isinstance(event, cc.MyEmsCostCenterExternalIdSet):
                _forget_external_id(conn, event.account_id)
                conn.execute(myems_cost_centers.insert().values(account_id=event.account_id,
                                                                external_id=event.external_id))  # fmt: skip
            elif isinstance(event, cc.MyEmsCostCenterTariffBound | tf.MyEmsTariffDefined):
                _bind(conn, event.account_id, event.tariff_id)
            elif isinstance(event, cc.MyEmsCostCenterTariffUnbound):
                _unbind(conn, event.account_id, event.tariff_id)
            elif isinstance(event, tf.MyEmsTariffDeleted):
                t = myems_cost_center_tariffs.c
                conn.execute(myems_cost_center_tariffs.delete().where(t.tariff_id == event.tariff_id))
            elif isinstance(event, ev.AccountDeleted):
                _forget_account(conn, event.account_id)


def _forget_external_id(conn: Connection, account_id: int) -> None:
    conn.execute(myems_cost_centers.delete().where(myems_cost_centers.c.account_id == account_id))


def external_id(conn: Connection, account_id: int) -> str | None:
    query = sa.select(myems_cost_centers.c.external_id).where(myems_cost_centers.c.account_id == account_id)
    return conn.execute(query).scalar()


def account_by_external_id(conn: Connection, value: str) -> int | None:
    query = sa.select(myems_cost_centers.c.account_id).where(myems_cost_centers.c.external_id == value)
    return conn.execute(query).scalar()


def bound_tariffs(conn: Connection, account_id: int) -> list[dict]:
    """The tariffs bound to the cost center (the account), by name: rows of ``myems_tariffs``."""
    t = myems_cost_center_tariffs.c
    query = (
        sa.select(myems_tariffs)
        .join(myems_cost_center_tariffs, t.tariff_id == myems_tariffs.c.id)
        .where(t.account_id == account_id)
        .order_by(myems_tariffs.c.name)
    )
    return [dict(r) for r in conn.execute(query).mappings()]


def is_bound(conn: Connection, account_id: int, tariff_id: int) -> bool:
    t = myems_cost_center_tariffs.c
    query = sa.select(t.tariff_id).where(t.account_id == account_id, t.tariff_id == tariff_id)
    return conn.execute(query).first() is not None
