"""Queries on the readings read model: "what did we believe about these events at time T".

All times in and out are epoch seconds (UTC) except ``prior`` (a datetime); values are in the
sensor's unit. The API layer converts units and formats the series.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on

from domain.beliefs import to_epoch_us
from domain.source_types import NOT_MEASURED_SOURCE_TYPES
from projections.readings import data_sources, readings


@dataclass(frozen=True)
class BeliefFilter:
    """Which beliefs count.

    * ``prior``: only beliefs formed before this time (time travel);
    * ``horizon_s``: only beliefs formed at least this long before the event's end
      (negative: at most this long after it);
    * ``sources``: only these source names (``None``: any source);
    * ``source_types``: only sources of these types, e.g. ``["forecaster"]``;
    * ``exclude_source_types``: no sources of these types (:data:`MEASURED`: measurements only).
    """

    prior: datetime | None = None
    horizon_s: int | None = None
    sources: Sequence[str] | None = None
    source_types: Sequence[str] | None = None
    exclude_source_types: Sequence[str] | None = None


MEASURED = BeliefFilter(exclude_source_types=sorted(NOT_MEASURED_SOURCE_TYPES))
"""Measurements only: no forecasts, no schedules (:mod:`domain.source_types`)."""


def _filter_conditions(r, beliefs: BeliefFilter) -> list:
    """Conditions on a belief row ``r`` (a ``readings`` alias) of which beliefs count."""
    conditions = []
    if beliefs.prior is not None:
        conditions.append(r.belief_time < to_epoch_us(beliefs.prior))
    if beliefs.horizon_s is not None:
        # belief horizon (us) = event end - belief time >= requested horizon
        conditions.append((r.event_start + r.resolution_s) * 1_000_000 - r.belief_time >= beliefs.horizon_s * 1_000_000)
    by_source = beliefs.sources, beliefs.source_types, beliefs.exclude_source_types
    if any(condition is not None for condition in by_source):
        source_query = sa.select(data_sources.c.id)
        if beliefs.sources is not None:
            source_query = source_query.where(data_sources.c.name.in_(list(beliefs.sources)))
        if beliefs.source_types is not None:
            source_query = source_query.where(data_sources.c.type.in_(list(beliefs.source_types)))
        if beliefs.exclude_source_types is not None:
            source_query = source_query.where(data_sources.c.type.not_in(list(beliefs.exclude_source_types)))
        conditions.append(r.source_id.in_(source_query.scalar_subquery()))
    return conditions


def _belief_conditions(sensor_id: int, start_s: int, end_s: int, beliefs: BeliefFilter) -> list:
    r = readings.c
    range_ = [r.sensor_id == sensor_id, r.event_start >= start_s, r.event_start < end_s]
    return range_ + _filter_conditions(r, beliefs)


def latest_beliefs_query(
    sensor_id: int, start_s: int, end_s: int, beliefs: BeliefFilter, dialect: str = "sqlite"
) -> sa.Select:
    """Latest belief per event (ties between sources: the highest source id).

    SQLite: a belief counts unless a newer one that also counts exists (an anti-join probing
    the primary key ``sensor_id, event_start, ...`` per row). PostgreSQL: ``DISTINCT ON
    (event_start)`` over the range sorted by belief time and source (one sort; its anti-join
    plan depends on fresh statistics: a nested loop 1.8x slower without them). Both return the
    same rows as ranking with ``row_number()`` over the range, with about half the CPU for a
    year in SQLite and ~0.6-0.9x the time in PostgreSQL (bench/reads.py). Do not add range
    conditions on ``n``: SQLite then probes the range, not the equal ``event_start`` (a
    quadratic plan).
    """
    if dialect == "postgresql":
        r = readings.c
        return (
            sa.select(r.event_start, r.value, r.belief_time, r.source_id)
            .where(*_belief_conditions(sensor_id, start_s, end_s, beliefs))
            .order_by(r.event_start, r.belief_time.desc(), r.source_id.desc())
            .ext(distinct_on(r.event_start))
        )
    r, n = readings.alias("r"), readings.alias("n")
    newer = sa.select(sa.literal(1)).where(
        n.c.sensor_id == r.c.sensor_id,
        n.c.event_start == r.c.event_start,
        sa.or_(
            n.c.belief_time > r.c.belief_time,
            sa.and_(n.c.belief_time == r.c.belief_time, n.c.source_id > r.c.source_id),
        ),
        *_filter_conditions(n.c, beliefs),
    )
    return sa.select(r.c.event_start, r.c.value, r.c.belief_time, r.c.source_id).where(
        r.c.sensor_id == sensor_id,
        r.c.event_start >= start_s,
        r.c.event_start < end_s,
        *_filter_conditions(r.c, beliefs),
        ~newer.exists(),
    )


def latest_values(
    conn: sa.Connection,
    sensor_id: int,
    start_s: int,
    end_s: int,
    beliefs: BeliefFilter = BeliefFilter(),
) -> dict[int, float]:
    """{event start (epoch s): value} of the latest belief per event in [start_s, end_s)."""
    query = latest_beliefs_query(sensor_id, start_s, end_s, beliefs, conn.dialect.name)
    return {row[0]: row[1] for row in conn.execute(query)}


def latest_horizons(
    conn: sa.Connection,
    sensor_id: int,
    start_s: int,
    end_s: int,
    resolution_s: int,
    event_resolution_s: int,
    beliefs: BeliefFilter = BeliefFilter(),
) -> dict[int, int]:
    """{bucket start: horizon in s} of the latest beliefs in [start_s, end_s), buckets of
    ``resolution_s`` from ``start_s``: the belief horizon (event end minus belief time) of each
    latest belief, the shortest in a bucket. What a ``horizon`` filter actually served."""
    query = latest_beliefs_query(sensor_id, start_s, end_s, beliefs, conn.dialect.name)
    out: dict[int, int] = {}
    for event_start, _value, belief_time, _source in conn.execute(query):
        bucket = start_s + (event_start - start_s) // resolution_s * resolution_s
        horizon_s = (event_start + event_resolution_s) - belief_time // 1_000_000
        out[bucket] = min(horizon_s, out.get(bucket, horizon_s))
    return out


def resampled_values(
    conn: sa.Connection,
    sensor_id: int,
    start_s: int,
    end_s: int,
    resolution_s: int,
    aggregate: str,
    beliefs: BeliefFilter = BeliefFilter(),
) -> dict[int, float]:
    """{bucket start: value} with buckets of ``resolution_s`` from ``start_s``.

    ``aggregate`` is ``"mean"`` (power, prices, ...) or ``"sum"`` (energy).
    """
    latest = latest_beliefs_query(sensor_id, start_s, end_s, beliefs, conn.dialect.name).subquery("latest")
    # integer division: event_start >= start_s, so truncation is the floor (SQLite and PostgreSQL alike)
    bucket = (start_s + (latest.c.event_start - start_s) // resolution_s * resolution_s).label("bucket")
    value = (sa.func.avg if aggregate == "mean" else sa.func.sum)(latest.c.value)
    query = sa.select(bucket, value).group_by(bucket).order_by(bucket)
    return {int(row[0]): row[1] for row in conn.execute(query)}


def beliefs_with_sources(
    conn: sa.Connection, sensor_id: int, start_s: int, end_s: int, beliefs: BeliefFilter = BeliefFilter()
) -> list[tuple[int, int, str, float]]:
    """Every matching belief (not only the latest): (event start s, belief time us, source, value)."""
    r = readings.c
    query = (
        sa.select(r.event_start, r.belief_time, data_sources.c.name, r.value)
        .join(data_sources, data_sources.c.id == r.source_id)
        .where(*_belief_conditions(sensor_id, start_s, end_s, beliefs))
        .order_by(r.event_start, r.belief_time)
    )
    return [tuple(row) for row in conn.execute(query)]


def has_data(conn: sa.Connection, sensor_id: int) -> bool:
    query = sa.select(readings.c.sensor_id).where(readings.c.sensor_id == sensor_id).limit(1)
    return conn.execute(query).first() is not None
