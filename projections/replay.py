"""Replay: rebuild a projection from position 0 straight from the event store, then swap it in.

The replay writes into a scratch copy of the projection's tables, through SQLAlchemy's
``schema_translate_map``: a schema ``rebuild_<name>`` on PostgreSQL (prefixed by the serving
schema when that is not ``public``), an attached database file ``<file>.rebuild-<name>`` on
SQLite; with its own checkpoint and failure rows. Only when the replay finished are the rows
copied over the serving tables, in one transaction; until then (and when the replay fails) the
old tables keep serving, unchanged. The serving tables are never dropped, so what depends on
them (TimescaleDB hypertables and continuous aggregates) stays. Poison events are recorded and
skipped during the replay as during live projection (:func:`projections.base.apply_batch`).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator
from pathlib import Path

import sqlalchemy as sa

from domain.ports.checkpoints import CheckpointStore
from domain.ports.event_store import EventStore
from projections.base import ALL_PARTITIONS, Projection, apply_or_skip, create_tables, failures


def rebuild(
    store: EventStore,
    engine: sa.Engine,
    projection: Projection,
    checkpoints: CheckpointStore,
    batch_size: int = 2000,
    on_progress: Callable[[int, int], None] | None = None,
) -> int:
    """Replay every event of the projection's types into fresh tables and swap them in; returns events applied.

    ``on_progress(position, head)`` is called after each batch. Afterwards the checkpoint is
    the head position under :data:`ALL_PARTITIONS`, where the embedded followers resume.
    On any error the serving tables and checkpoints are left as they were, and the error propagates.
    """
    create_tables(engine, projection)
    schema = _schema(engine, projection)
    with _scratch(engine, projection, schema) as scratch, paused_gc():
        applied, head = _replay(store, scratch, projection, batch_size, on_progress)
        _swap(engine, projection, schema, checkpoints, head)
    if on_progress:
        on_progress(head, head)
    return applied


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a bulk job (a replay, an import), then restore it.

    A bulk job allocates containers by the million (decoded events, row tuples) that form no
    cycles and die with their batch (reference counting frees them); each allocation burst
    still triggers collections that walk every live object of the process, which cost a
    rebuild of 96-value events about a fifth of its time. Memory is still freed as usual;
    only cycles made meanwhile (by any thread) wait for the collector's return.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _replay(store, scratch: sa.Engine, projection: Projection, batch_size: int, on_progress) -> tuple[int, int]:
    head = store.head_position()
    position, applied = 0, 0
    types = sorted(projection.event_types)
    while position < head:
        batch = [e for e in store.read_all(position, batch_size, types=types) if e.global_position <= head]
        if not batch:
            break
        with scratch.begin() as conn:  # the swap sets the checkpoint: the scratch needs none
            apply_or_skip(conn, projection, [e for e in batch if e.type in projection.event_types])
        position, applied = batch[-1].global_position, applied + len(batch)
        if on_progress:
            on_progress(position, head)
    return applied, head


def _schema(engine: sa.Engine, projection: Projection) -> str:
    """``rebuild_<name>``; on PostgreSQL prefixed by the serving schema (when not ``public``), so
    platforms sharing a database in schemas of their own do not share scratch schemas."""
    name = f"rebuild_{projection.name}"
    if engine.dialect.name != "postgresql":
        return name
    with engine.connect() as conn:
        current = conn.execute(sa.text("SELECT current_schema()")).scalar()
    return name if current in (None, "public") else f"{current}_{name}"[:63]


@contextlib.contextmanager
def _scratch(engine: sa.Engine, projection: Projection, schema: str) -> Iterator[sa.Engine]:
    """An engine whose unqualified tables live in the empty scratch ``schema``; removed afterwards."""
    attach = _sqlite_attacher(engine, schema) if engine.dialect.name == "sqlite" else None
    if attach:
        sa.event.listen(engine, "checkout", attach)
    else:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    scratch = engine.execution_options(schema_translate_map={None: schema})
    try:
        create_tables(scratch, projection)
        yield scratch
    finally:
        _drop_scratch(engine, schema, attach)


def _sqlite_attacher(engine: sa.Engine, schema: str):
    """A pool ``checkout`` listener attaching an emptied scratch file to each connection (SQLite)."""
    path = Path(f"{engine.url.database}.{schema.replace('_', '-', 1)}")
    path.unlink(missing_ok=True)

    def attach(dbapi_conn, _record, _proxy) -> None:
        cursor = dbapi_conn.cursor()
        try:
            if schema not in {row[1] for row in cursor.execute("PRAGMA database_list")}:
                cursor.execute(f"ATTACH DATABASE ? AS \"{schema}\"", (str(path),))
                # scratch: no fsync, the journal in memory (savepoints still roll back); a crash loses only it
                cursor.execute(f'PRAGMA "{schema}".journal_mode=MEMORY')
                cursor.execute(f'PRAGMA "{schema}".synchronous=OFF')
        finally:
            cursor.close()

    attach.path = path  # type: ignore[attr-defined]
    return attach


def _drop_scratch(engine: sa.Engine, schema: str, attach) -> None:
    if attach is None:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        return
    sa.event.remove(engine, "checkout", attach)
    engine.dispose()  # pooled connections hold the attachment: close them, then remove the file
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{attach.path}{suffix}").unlink(missing_ok=True)


def _swap(engine: sa.Engine, projection: Projection, schema: str, checkpoints: CheckpointStore, head: int) -> None:
    """Replace the serving rows and failures of the projection by the scratch ones and set its
    checkpoint to ``head``, atomically."""
    copies = sa.MetaData()
    with engine.begin() as conn:
        for table in projection.metadata.sorted_tables:
            _copy(conn, table, table.to_metadata(copies, schema=schema))
        scratch = failures.to_metadata(copies, schema=schema)
        conn.execute(failures.delete().where(failures.c.projection == projection.name))
        conn.execute(failures.insert().from_select(list(scratch.c.keys()), sa.select(*scratch.c)))
        checkpoints.forget(projection.name, within=conn)
        checkpoints.save(projection.name, ALL_PARTITIONS, head, within=conn)


def _same_columns(conn: sa.Connection, table: str, schema: str) -> bool:
    """Whether the serving table and its scratch copy have the same columns in the same order (SQLite)."""
    def columns(database: str) -> list[tuple]:
        return [row[1:3] for row in conn.exec_driver_sql(f'PRAGMA "{database}".table_info("{table}")')]

    return columns("main") == columns(schema)


def _copy(conn: sa.Connection, target: sa.Table, source: sa.Table) -> None:
    conn.execute(target.delete())
    if conn.dialect.name == "sqlite" and _same_columns(conn, target.name, source.schema):
        # SQLite's transfer optimisation (INSERT INTO t SELECT * FROM s, t empty, same schema) copies
        # the stored records without decoding them: about three times faster than naming the columns
        conn.exec_driver_sql(f'INSERT INTO main."{target.name}" SELECT * FROM "{source.schema}"."{target.name}"')
        return
    conn.execute(target.insert().from_select(list(source.c.keys()), sa.select(*source.c)))
    if conn.dialect.name != "postgresql":
        return
    for column in target.primary_key.columns:  # copied serial ids: move the sequence past them
        if column.autoincrement is True and isinstance(column.type, sa.Integer):
            conn.execute(
                sa.text(
                    f"SELECT setval(pg_get_serial_sequence('{target.name}', '{column.name}'), "
                    f"COALESCE((SELECT MAX({column.name}) FROM {target.name}), 0) + 1, false)"
                )
            )
