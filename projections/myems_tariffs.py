"""Read model of tariffs (MyEMS ``tariffs``; see :mod:`domain.tariffs`) and the scheduler's look-up."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from domain import tariffs as tf
from domain.events import RecordedEvent
from projections.registry import assets

metadata = sa.MetaData()
myems_tariffs = sa.Table(
    "myems_tariffs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("account_id", sa.Integer, nullable=False, index=True),
    sa.Column("uuid", sa.String(36), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("definition", sa.JSON, nullable=False),
)


class MyEmsTariffsProjection:
    name = "myems_tariffs"
    event_types = frozenset({"MyEmsTariffDefined", "MyEmsTariffRedefined", "MyEmsTariffDeleted"})
    metadata = metadata

    def apply(self, conn: Connection, events: Sequence[RecordedEvent]) -> None:
        for recorded in events:
            event = recorded.decode()
            row = myems_tariffs.c.id == event.tariff_id
            if isinstance(event, tf.MyEmsTariffDefined):
                conn.execute(myems_tariffs.delete().where(row))  # idempotent on replay
                conn.execute(myems_tariffs.insert().values(
                    id=event.tariff_id, account_id=event.account_id, uuid=str(event.uuid),
                    name=event.definition.name, definition=event.definition.model_dump(mode="json")))
            elif isinstance(event, tf.MyEmsTariffRedefined):
                conn.execute(myems_tariffs.update().where(row).values(
                    name=event.definition.name, definition=event.definition.model_dump(mode="json")))
            elif isinstance(event, tf.MyEmsTariffDeleted):
                conn.execute(myems_tariffs.delete().where(row))


def tariffs(conn: Connection, account_id: int | None) -> list[dict]:
    query = sa.select(myems_tariffs).order_by(myems_tariffs.c.name, myems_tariffs.c.id)
    if account_id is not None:
        query = query.where(myems_tariffs.c.account_id == account_id)
    return [dict(r) for r in conn.execute(query).mappings()]


def tariff_by_id(conn: Connection, tariff_id: int) -> dict | None:
    row = conn.execute(sa.select(myems_tariffs).where(myems_tariffs.c.id == tariff_id)).mappings().first()
    return dict(row) if row else None


def tariff_by_name(conn: Connection, account_id: int, name: str) -> dict | None:
    query = sa.select(myems_tariffs).where(myems_tariffs.c.account_id == account_id, myems_tariffs.c.name == name)
    row = conn.execute(query).mappings().first()
    return dict(row) if row else None


def with_tariff_prices(conn: Connection, asset_id: int, flex_context: dict[str, Any], start: datetime,
                       end: datetime, resolution: timedelta) -> dict[str, Any]:
    """The flex-context with ``{"tariff": id}`` prices expanded onto the grid [start, end) of
    ``resolution``; only tariffs of the asset's account resolve. Unchanged when it names none."""
    if not any(isinstance(flex_context.get(name), dict) and "tariff" in flex_context[name]
               for name in tf.PRICE_FIELDS):
        return flex_context
    asset = conn.execute(sa.select(assets.c.account_id).where(assets.c.id == asset_id)).first()
    account_id = asset[0] if asset else None

    def lookup(tariff_id: int) -> tf.TariffDefinition | None:
        row = tariff_by_id(conn, tariff_id)
        if row is None or row["account_id"] != account_id:
            return None
        return tf.TariffDefinition.model_validate(row["definition"])

    return tf.expand_tariff_references(flex_context, lookup, start, end, resolution)
