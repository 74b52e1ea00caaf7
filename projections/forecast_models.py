"""Read model of each sensor's live forecaster: model choice and running errors per horizon.

Consumes :class:`~domain.forecast_events.ForecastMade` (topic of the ``forecast-*`` streams).
Table ``forecast_models``, one row per sensor, from its latest forecast (by belief time):

* ``belief_time`` — when (in data time) the latest forecast was made (ISO 8601);
* ``selection`` — horizon bucket (``"1h"``, ``"6h"``, ``"24h"``, ``"48h"``) -> serving model;
* ``running_errors`` — bucket -> model -> ``one_minus_wape``, ``wape`` (fractions), ``mae``
  (the sensor's unit), ``n`` (matured forecasts in the window);
* ``learned`` — readings learned; ``forecasts`` — forecasts made (ForecastMade events seen).

A compact ``ForecastMade`` (no running errors: most of a catch-up's) moves the belief time,
``learned`` and the count on but keeps the selection and running errors of the latest full one
(one not older than the row's forecast when it arrives).

Idempotent on replay: an event older than the row's belief time only counts when new.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from domain.beliefs import to_epoch_us
from domain.events import RecordedEvent
from domain.forecast_events import ForecastMade

metadata = sa.MetaData()
forecast_models = sa.Table(
    "forecast_models",
    metadata,
    sa.Column("sensor_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("belief_time_us", sa.BigInteger, nullable=False),
    sa.Column("belief_time", sa.String(40), nullable=False),
    sa.Column("source", sa.String(255), nullable=False),
    sa.Column("resolution_s", sa.Integer, nullable=False),
    sa.Column("n_values", sa.Integer, nullable=False),
    sa.Column("learned", sa.BigInteger, nullable=False),
    sa.Column("forecasts", sa.BigInteger, nullable=False),
    sa.Column("selection", sa.JSON, nullable=False),
    sa.Column("running_errors", sa.JSON, nullable=False),
)


class ForecastModelsProjection:
    name = "forecast_models"
    event_types = frozenset({"ForecastMade"})
    metadata = metadata

    def apply(self, conn: Connection, events: Sequence[RecordedEvent]) -> None:
        latest: dict[int, ForecastMade] = {}
        latest_full: dict[int, ForecastMade] = {}  # the latest with running errors
        counts: dict[int, int] = {}
        for recorded in events:
            event: ForecastMade = recorded.decode()  # type: ignore[assignment]
            counts[event.sensor_id] = counts.get(event.sensor_id, 0) + 1
            for newest in (latest, latest_full) if event.running_errors else (latest,):
                current = newest.get(event.sensor_id)
                if current is None or event.belief_time >= current.belief_time:
                    newest[event.sensor_id] = event
        for sensor_id, event in latest.items():
            _upsert(conn, event, latest_full.get(sensor_id), counts[sensor_id])


def _upsert(conn: Connection, event: ForecastMade, full: ForecastMade | None, count: int) -> None:
    """``event``: the sensor's latest in the batch; ``full``: its latest with running errors."""
    c = forecast_models.c
    row = conn.execute(
        sa.select(c.belief_time_us, c.forecasts).where(c.sensor_id == event.sensor_id)
    ).first()
    values = {
        "belief_time_us": to_epoch_us(event.belief_time),
        "belief_time": event.belief_time.isoformat(),
        "source": event.source,
        "resolution_s": event.resolution_s,
        "n_values": event.n_values,
        "learned": event.learned,
    }
    errors = {}
    if full is not None and (row is None or to_epoch_us(full.belief_time) >= row.belief_time_us):
        errors = {"selection": full.selection, "running_errors": full.running_errors}
    if row is None:
        errors = errors or {"selection": {}, "running_errors": {}}
        conn.execute(forecast_models.insert().values(sensor_id=event.sensor_id, forecasts=count, **values, **errors))
    elif values["belief_time_us"] >= row.belief_time_us:
        conn.execute(forecast_models.update().where(c.sensor_id == event.sensor_id).values(
            forecasts=row.forecasts + count, **values, **errors))
    else:
        conn.execute(forecast_models.update().where(c.sensor_id == event.sensor_id).values(
            forecasts=row.forecasts + count, **errors))


def forecast_model(conn: Connection, sensor_id: int) -> dict | None:
    """The sensor's row (see the module docstring), or ``None`` when it has not been forecast."""
    row = conn.execute(sa.select(forecast_models).where(forecast_models.c.sensor_id == sensor_id)).mappings().first()
    return dict(row) if row else None
