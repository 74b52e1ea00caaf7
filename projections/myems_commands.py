"""Read model of MyEMS-style command definitions (one row per live definition)."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from domain import myems_commands as my
from domain.events import RecordedEvent

metadata = sa.MetaData()
myems_commands = sa.Table(
    "myems_commands",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("uuid", sa.String(36), nullable=False),
    sa.Column("account_id", sa.Integer, nullable=False, index=True),
    sa.Column("asset_id", sa.Integer, nullable=False),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("topic", sa.String(128), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("set_value", sa.Float),
    sa.Column("description", sa.Text),
)


class MyEmsCommandsProjection:
    name = "myems_commands"
    event_types = frozenset({"MyEmsCommandDefined", "MyEmsCommandChanged", "MyEmsCommandDeleted"})
    metadata = metadata

    def apply(self, conn: Connection, events: Sequence[RecordedEvent]) -> None:
        for recorded in events:
            event = recorded.decode()
            row = myems_commands.c.id == getattr(event, "command_id", None)
            if isinstance(event, my.MyEmsCommandDefined):
                conn.execute(myems_commands.delete().where(row))  # idempotent on replay
                conn.execute(myems_commands.insert().values(id=event.command_id, **event.model_dump(
                    mode="json", exclude={"command_id"})))
            elif isinstance(event, my.MyEmsCommandChanged):
                conn.execute(myems_commands.update().where(row).values(**event.changes))
            elif isinstance(event, my.MyEmsCommandDeleted):
                conn.execute(myems_commands.delete().where(row))


def list_definitions(conn: Connection, account_id: int | None) -> list[dict]:
    query = sa.select(myems_commands).order_by(myems_commands.c.id)
    if account_id is not None:
        query = query.where(myems_commands.c.account_id == account_id)
    return [dict(r) for r in conn.execute(query).mappings()]


def definition_by_id(conn: Connection, command_id: int) -> dict | None:
    row = conn.execute(sa.select(myems_commands).where(myems_commands.c.id == command_id)).mappings().first()
    return dict(row) if row else None
