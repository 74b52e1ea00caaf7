"""Checkpoint stores (port: :mod:`domain.ports.checkpoints`).

:class:`SqlCheckpointStore`: table ``projection_checkpoints`` in the read-model database (SQL
in every deployment, also when the event store is KurrentDB): ``projection`` (processor
name) and ``partition`` -> ``position``. The relay keeps its checkpoint here too, under
``relay.<name>`` (``create_tables`` copies the rows of the former ``relay_checkpoints`` table once).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from domain.ports.checkpoints import ALL_PARTITIONS

metadata = sa.MetaData()
checkpoints = sa.Table(
    "projection_checkpoints",
    metadata,
    sa.Column("projection", sa.String(64), primary_key=True),
    sa.Column("partition", sa.String(128), primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),
)

# Statements of every applied batch, built once.
_LOAD = sa.select(checkpoints.c.partition, checkpoints.c.position).where(
    checkpoints.c.projection == sa.bindparam("projection")
)
_UPDATE = (  # bind names differ from the column names (SQLAlchemy reserves those in UPDATE)
    checkpoints.update()
    .where(
        checkpoints.c.projection == sa.bindparam("p_projection"),
        checkpoints.c.partition == sa.bindparam("p_partition"),
    )
    .values(position=sa.bindparam("p_position"))
)
_LEGACY_RELAY = sa.text("SELECT relay, position FROM relay_checkpoints")


def load_checkpoints(conn: Connection, name: str) -> dict[str, int]:
    return dict(conn.execute(_LOAD, {"projection": name}).all())


def save_checkpoint(conn: Connection, name: str, partition: str, position: int) -> None:
    """Upsert the checkpoint (portable: UPDATE, then INSERT when nothing was updated)."""
    params = {"p_projection": name, "p_partition": partition, "p_position": position}
    if conn.execute(_UPDATE, params).rowcount == 0:
        conn.execute(checkpoints.insert().values(projection=name, partition=partition, position=position))


class SqlCheckpointStore:
    """The checkpoint store on a SQL database (``engine``); ``within`` is a ``Connection`` on it."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine

    def create_tables(self) -> None:
        metadata.create_all(self.engine)
        self._adopt_legacy_relay_checkpoints()

    def _adopt_legacy_relay_checkpoints(self) -> None:
        """Copy the former ``relay_checkpoints`` rows (relay ``R`` -> ``relay.R``, partition ``*``) once."""
        if not sa.inspect(self.engine).has_table("relay_checkpoints"):
            return
        with self.engine.begin() as conn:
            for relay, position in conn.execute(_LEGACY_RELAY).all():
                if not load_checkpoints(conn, f"relay.{relay}"):
                    save_checkpoint(conn, f"relay.{relay}", ALL_PARTITIONS, position)

    def load(self, name: str, within: Any = None) -> dict[str, int]:
        if within is not None:
            return load_checkpoints(within, name)
        with self.engine.connect() as conn:
            return load_checkpoints(conn, name)

    def save(self, name: str, partition: str, position: int, within: Any = None) -> None:
        if within is not None:
            save_checkpoint(within, name, partition, position)
            return
        with self.engine.begin() as conn:
            save_checkpoint(conn, name, partition, position)

    def forget(self, name: str, within: Any = None) -> None:
        statement = checkpoints.delete().where(checkpoints.c.projection == name)
        if within is not None:
            within.execute(statement)
            return
        with self.engine.begin() as conn:
            conn.execute(statement)


__all__ = ["SqlCheckpointStore", "checkpoints", "load_checkpoints", "save_checkpoint"]
