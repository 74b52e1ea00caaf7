"""MyEMS data sources' liveness on the readings read model (issue 14): when a set of points
(sensors) last reported."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from projections.readings import readings

MAX_POINTS = 5_000
"""Points asked about at once (bounds the query's IN list)."""


def last_belief_time(conn: sa.Connection, sensor_ids: Sequence[int]) -> datetime | None:
    """The newest belief time (UTC) of any reading of ``sensor_ids`` (the first ``MAX_POINTS``), or
    ``None`` when none has data."""
    ids = list(sensor_ids)[:MAX_POINTS]
    if not ids:
        return None
    newest = conn.execute(sa.select(sa.func.max(readings.c.belief_time)).where(readings.c.sensor_id.in_(ids)))
    value = newest.scalar()
    return None if value is None else datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(value))
