"""Adds the tamper-evidence hash chain to an events table written before it existed.

Stores created by earlier versions have no ``hash`` column: :func:`ensure_hash_chain` adds it
and computes the missing hashes in position order, in one transaction, when the store opens
(once; later appends chain on). See :mod:`domain.audit_chain`.
"""

from __future__ import annotations

import sqlalchemy as sa

from domain.audit_chain import GENESIS, chain_hash

BATCH = 5000


def ensure_hash_chain(engine: sa.Engine, table: sa.Table) -> int:
    """Add the ``hash`` column if missing and fill every NULL hash; returns how many were filled."""
    columns = {c["name"] for c in sa.inspect(engine).get_columns(table.name)}
    with engine.begin() as conn:
        if "hash" not in columns:
            conn.execute(sa.text(f"ALTER TABLE {table.name} ADD COLUMN hash VARCHAR(64)"))
        if conn.execute(sa.select(sa.func.count()).where(table.c.hash.is_(None))).scalar() == 0:
            return 0
        return _backfill(conn, table)


def _backfill(conn: sa.Connection, table: sa.Table) -> int:
    c, previous, after, filled = table.c, GENESIS, 0, 0
    columns = (c.global_position, c.event_id, c.stream_id, c.stream_revision, c.type, c.schema_version, c.data)
    while True:
        rows = conn.execute(
            sa.select(*columns, c.metadata, c.hash)
            .where(c.global_position > after)
            .order_by(c.global_position)
            .limit(BATCH)
        ).all()
        if not rows:
            return filled
        for row in rows:
            if row.hash is None:
                value = chain_hash(previous, *row[:7], row[7])
                conn.execute(table.update().where(c.global_position == row[0]).values(hash=value))
                filled += 1
            else:
                value = row.hash
            previous, after = value, row[0]
