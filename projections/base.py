"""What a projection is, and how it is applied with its checkpoint in one transaction.

A projection consumes some event types and maintains tables. ``apply`` must be idempotent:
the runner skips events at or below the checkpoint of the log partition they came from, and
writes rows and the new checkpoint (in the shared checkpoint store,
:mod:`domain.ports.checkpoints`) in the same transaction, so a crash replays at most the
uncommitted batch. Rebuilding from position 0 into fresh tables yields the same tables.

An event a projection cannot apply (a *poison* event: it does not decode, or its rows break a
constraint) never stalls the projection: :func:`apply_batch` applies the batch in a savepoint;
when that fails with a poison error, it applies the events one by one, records each failing one
in ``projection_failures`` (projection, position, event id, error), logs it and goes on, in the
same transaction as the checkpoint. Other errors (a lost connection, a locked database, a bug
that raises ``RuntimeError``) roll the whole batch back and propagate, so the runner retries.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection

from domain.events import RecordedEvent
from domain.ports.checkpoints import ALL_PARTITIONS, CheckpointStore, done_position

failure_metadata = sa.MetaData()
failures = sa.Table(
    "projection_failures",
    failure_metadata,
    sa.Column("projection", sa.String(64), primary_key=True),
    sa.Column("position", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("event_id", sa.String(36), nullable=False),
    sa.Column("stream_id", sa.String(255), nullable=False),
    sa.Column("event_type", sa.String(128), nullable=False),
    sa.Column("error", sa.Text, nullable=False),
    sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
)
"""Events a projection skipped because it could not apply them (one row per projection and position)."""

log = logging.getLogger(__name__)

__all__ = ["ALL_PARTITIONS", "Projection", "apply_batch", "create_tables", "reset"]


class Projection(Protocol):
    """A read model fed by events."""

    name: str
    event_types: frozenset[str]
    metadata: sa.MetaData

    def apply(self, conn: Connection, events: Sequence[RecordedEvent]) -> None:
        """Apply events (already filtered to ``event_types`` and above the checkpoint)."""
        ...

    # Optional: ``passes_over(recorded) -> bool``, True for an event of ``event_types`` that
    # ``apply`` ignores, told from its stored type and data only (no decoding, no database):
    # the store followers do not hand such events over (:mod:`streams.follower`), so a batch of
    # them costs no transaction. ``apply`` must still ignore them (other runners hand them over).


def create_tables(engine: sa.Engine, projection: Projection) -> None:
    """Create the projection's tables and ``projection_failures`` when missing (the checkpoint
    store creates its own)."""
    failure_metadata.create_all(engine)
    projection.metadata.create_all(engine)


def apply_batch(
    engine: sa.Engine,
    projection: Projection,
    partition: str,
    events: Sequence[RecordedEvent],
    checkpoints: CheckpointStore,
) -> int:
    """Apply events from one partition with the checkpoint in one transaction; returns the checkpoint.

    Poison events are recorded in ``projection_failures`` and skipped (see the module docstring).
    """
    with engine.begin() as conn:
        done = done_position(checkpoints.load(projection.name, within=conn), partition)
        fresh = [e for e in events if e.global_position > done and e.type in projection.event_types]
        if fresh:
            apply_or_skip(conn, projection, fresh)
        last = max((e.global_position for e in events), default=done)
        if last > done:
            checkpoints.save(projection.name, partition, last, within=conn)
        return max(last, done)


POISON_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,  # incl. pydantic's ValidationError: the event does not decode
    TypeError,
    LookupError,  # an unknown event type, a missing key
    ArithmeticError,
    sa_exc.IntegrityError,  # NOT NULL, UNIQUE, ... constraints
    sa_exc.DataError,  # a value the column cannot hold (too long, out of range)
    sa_exc.CompileError,  # a change naming a column the table does not have
    sa_exc.ArgumentError,
)
"""Errors that an event causes whenever it is applied; anything else is retried, never skipped."""


def is_poison(error: BaseException) -> bool:
    """True when applying the event again would fail again (so it is recorded and skipped)."""
    if isinstance(error, sa_exc.StatementError) and not isinstance(error, sa_exc.DBAPIError):
        return isinstance(error.orig, POISON_ERRORS)  # a value SQLAlchemy could not bind
    return isinstance(error, POISON_ERRORS)


def apply_or_skip(conn: Connection, projection: Projection, events: Sequence[RecordedEvent]) -> list[int]:
    """Apply ``events`` inside ``conn``'s transaction, skipping and recording poison events.

    Callable from any runner that holds a transaction on the read-model database (the
    checkpoint is saved by the caller in the same transaction). Returns the skipped positions.
    """
    try:
        with conn.begin_nested():
            projection.apply(conn, events)
        return []
    except Exception as error:  # noqa: BLE001 - classified: poison is isolated below, the rest re-raised
        if not is_poison(error):
            raise
    skipped = []
    for event in events:  # one bad event in the batch: find it (them), apply the others
        try:
            with conn.begin_nested():
                projection.apply(conn, [event])
        except Exception as error:  # noqa: BLE001 - classified as above
            if not is_poison(error):
                raise
            record_failure(conn, projection.name, event, error)
            skipped.append(event.global_position)
    return skipped


def record_failure(conn: Connection, projection: str, event: RecordedEvent, error: BaseException) -> None:
    """Record (idempotently: once per projection and position) and log an event the projection skipped."""
    text = f"{type(error).__name__}: {error}"[:4000]
    log.error(
        "projection %s skipped event %s at position %s (%s %s): %s",
        projection, event.event_id, event.global_position, event.type, event.stream_id, text,
    )
    key = (failures.c.projection == projection) & (failures.c.position == event.global_position)
    conn.execute(failures.delete().where(key))
    conn.execute(
        failures.insert().values(
            projection=projection,
            position=event.global_position,
            event_id=str(event.event_id),
            stream_id=event.stream_id,
            event_type=event.type,
            error=text,
            failed_at=datetime.now(UTC),
        )
    )


def list_failures(conn: Connection, projection: str | None = None, limit: int = 100) -> list[dict]:
    """The most recent recorded failures (all projections, or one), newest position first."""
    query = sa.select(failures).order_by(failures.c.position.desc()).limit(limit)
    if projection is not None:
        query = query.where(failures.c.projection == projection)
    return [dict(row) for row in conn.execute(query).mappings()]


def count_failures(conn: Connection) -> dict[str, int]:
    """Number of recorded failures per projection."""
    query = sa.select(failures.c.projection, sa.func.count()).group_by(failures.c.projection)
    return {name: count for name, count in conn.execute(query).all()}


def reset(engine: sa.Engine, projection: Projection, checkpoints: CheckpointStore) -> None:
    """Drop and recreate the projection's tables and forget its checkpoints and failures."""
    projection.metadata.drop_all(engine)
    failure_metadata.create_all(engine)
    with engine.begin() as conn:
        checkpoints.forget(projection.name, within=conn)
        conn.execute(failures.delete().where(failures.c.projection == projection.name))
    projection.metadata.create_all(engine)
    projection.metadata.create_all(engine)
