"""Read model of tariffs (MyEMS ``tariffs``; see :mod:`domain.tariffs`) and the scheduler's look-up.

Two tables: ``myems_tariffs`` (each tariff as it is now) and ``myems_tariff_versions`` (every
definition a tariff had, from the recording time of the event that gave it: epoch µs UTC; a
deletion is a version without a definition), so a schedule is priced with the tariffs as they
were known at its trigger's belief time, also when solved again later.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from domain import tariffs as tf
from domain.beliefs import to_epoch_us
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
myems_tariff_versions = sa.Table(
    "myems_tariff_versions",
    metadata,
    sa.Column("tariff_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("revision", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("account_id", sa.Integer, nullable=False, index=True),
    sa.Column("known_from_us", sa.BigInteger, nullable=False),
    sa.Column("definition", sa.JSON, nullable=True),
)


class MyEmsTariffsProjection:
    name = "myems_tariffs"
    event_types = frozenset({"MyEmsTariffDefined", "MyEmsTariffRedefined", "MyEmsTariffDeleted"})
    metadata = metadata

    def apply(self, conn: Connection, events: Sequence[RecordedEvent]) -> None:
        for recorded in events:
            event = recorded.decode()
            _record_version(conn, recorded, event)
            row = myems_tariffs.c.id == event.tariff_id
            if isinstance(event, tf.MyEmsTariffDefined):
                conn.execute(myems_tariffs.delete().where(row))  # idempotent on replay
                conn.execute(
                    myems_tariffs.insert().values(
                        id=event.tariff_id,
                        account_id=event.account_id,
                        uuid=str(event.uuid),
                        name=event.definition.name,
                        definition=event.definition.model_dump(mode="json"),
                    )
                )
            elif isinstance(event, tf.MyEmsTariffRedefined):
                conn.execute(
                    myems_tariffs.update()
                    .where(row)
                    .values(name=event.definition.name, definition=event.definition.model_dump(mode="json"))
                )
            elif isinstance(event, tf.MyEmsTariffDeleted):
                conn.execute(myems_tariffs.delete().where(row))


def _record_version(conn: Connection, recorded: RecordedEvent, event: Any) -> None:
    """One version row per tariff event (idempotent on replay: keyed by the stream revision)."""
    if isinstance(event, tf.MyEmsTariffDefined):
        account_id = event.account_id
    else:
        first = conn.execute(
            sa.select(myems_tariff_versions.c.account_id).where(myems_tariff_versions.c.tariff_id == event.tariff_id)
        ).first()
        if first is None:
            return  # a change of a tariff this model never saw defined
        account_id = first[0]
    definition = None if isinstance(event, tf.MyEmsTariffDeleted) else event.definition.model_dump(mode="json")
    key = (myems_tariff_versions.c.tariff_id == event.tariff_id) & (
        myems_tariff_versions.c.revision == recorded.stream_revision
    )
    conn.execute(myems_tariff_versions.delete().where(key))
    conn.execute(
        myems_tariff_versions.insert().values(
            tariff_id=event.tariff_id,
            revision=recorded.stream_revision,
            account_id=account_id,
            known_from_us=to_epoch_us(recorded.metadata.recorded_at),
            definition=definition,
        )
    )


def tariffs_as_of(conn: Connection, account_id: int, as_of: datetime) -> dict[int, tf.TariffDefinition]:
    """The account's tariffs as known at ``as_of``: each tariff's newest version recorded at or
    before it (tariffs deleted by then left out). A tariff projected before this model kept
    versions (no version row) counts as it is now, until ``projections rebuild myems_tariffs``."""
    query = (
        sa.select(myems_tariff_versions)
        .where(
            myems_tariff_versions.c.account_id == account_id,
            myems_tariff_versions.c.known_from_us <= to_epoch_us(as_of),
        )
        .order_by(myems_tariff_versions.c.tariff_id, myems_tariff_versions.c.revision)
    )
    newest: dict[int, Any] = {}
    for row in conn.execute(query).mappings():
        newest[row["tariff_id"]] = row["definition"]
    known = {tid: tf.TariffDefinition.model_validate(d) for tid, d in newest.items() if d is not None}
    versioned = sa.select(myems_tariff_versions.c.tariff_id).where(myems_tariff_versions.c.account_id == account_id)
    with_history = {row[0] for row in conn.execute(versioned.distinct())}
    for row in tariffs(conn, account_id):  # projected before versions were kept: only the current one is known
        if row["id"] not in with_history:
            known[row["id"]] = tf.TariffDefinition.model_validate(row["definition"])
    return known


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


def with_tariff_prices(
    conn: Connection,
    asset_id: int,
    flex_context: dict[str, Any],
    start: datetime,
    end: datetime,
    resolution: timedelta,
    as_of: datetime | None = None,
) -> dict[str, Any]:
    """The flex-context with ``{"tariff": id}`` prices expanded onto the grid [start, end) of
    ``resolution``; only tariffs of the asset's account resolve. Each step takes the named
    tariff's price, or where it is not valid, the price of the account's other time-of-use tariff
    valid then (:func:`domain.tariffs.expand`). ``as_of``: the tariffs as known then (the
    scheduler passes its trigger's belief time); ``None``: as they are now. Unchanged when the
    flex-context names no tariff."""
    if not any(isinstance(flex_context.get(name), dict) and "tariff" in flex_context[name] for name in tf.PRICE_FIELDS):
        return flex_context
    asset = conn.execute(sa.select(assets.c.account_id).where(assets.c.id == asset_id)).first()
    if asset is None:
        known: dict[int, tf.TariffDefinition] = {}
    elif as_of is None:
        known = {row["id"]: tf.TariffDefinition.model_validate(row["definition"]) for row in tariffs(conn, asset[0])}
    else:
        known = tariffs_as_of(conn, asset[0], as_of)
    return tf.expand_tariff_references(flex_context, known.get, start, end, resolution, list(known.values()))
