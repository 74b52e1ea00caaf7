"""Forecasts in the readings read model: the seam for the scheduler and the API.

Forecasts are ordinary beliefs in ``readings`` whose data source has type ``forecaster``
(sources ``forecaster:auto``, ``forecaster:trigger``). All values are in the sensor's unit
(power: consumption positive, production negative; prices e.g. EUR/MWh); times are epoch
seconds of event starts (UTC), ``prior`` a timezone-aware datetime.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from domain.beliefs import to_epoch_s
from domain.forecast_events import FORECASTER_SOURCE_TYPE
from projections.readings_query import BeliefFilter, latest_values


def latest_forecast(
    conn: sa.Connection, sensor_id: int, start: datetime, end: datetime, prior: datetime | None = None
) -> dict[int, float]:
    """``{event start (epoch s): value}``: the latest forecast per event in ``[start, end)``.

    Only forecaster beliefs count; with ``prior``, only forecasts made before it (so a schedule
    computed "as of" a time sees what was forecast by then). Events without any forecast are absent.
    """
    beliefs = BeliefFilter(prior=prior, source_types=[FORECASTER_SOURCE_TYPE])
    return latest_values(conn, sensor_id, to_epoch_s(start), to_epoch_s(end), beliefs)


def known_or_forecast(
    conn: sa.Connection, sensor_id: int, start: datetime, end: datetime, prior: datetime | None = None
) -> dict[int, float]:
    """``{event start (epoch s): value}``: what is known (measured, published) where it is, else the forecast.

    For inflexible loads and for prices that have not been published yet: the latest
    non-forecaster belief per event, and for the other events the latest forecast.
    """
    start_s, end_s = to_epoch_s(start), to_epoch_s(end)
    forecasts = latest_forecast(conn, sensor_id, start, end, prior)
    others = BeliefFilter(prior=prior, exclude_source_types=[FORECASTER_SOURCE_TYPE])
    known = latest_values(conn, sensor_id, start_s, end_s, others)
    return {**forecasts, **known}

