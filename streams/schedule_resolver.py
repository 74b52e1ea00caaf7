"""The scheduler's sensor resolver: a sensor's latest beliefs over the horizon, as known at the
belief time, from the readings read model.

The resolver reads :func:`projections.readings_query.latest_values` as known at the request's
belief time (``prior``, else the trigger's recording time), so solving the same trigger again
later sees the same inputs. Price series with gaps are filled from the nearest known price (a
note says how many steps); a price sensor without any value in the horizon is an error. A
sensor's unit and resolution come from the registry as of the trigger (``registry``).

Values are in the sensors' units (the core converts them: power kW, consumption positive).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import sqlalchemy as sa

from domain.beliefs import to_epoch_s
from domain.ports.registry import RegistryView
from domain.scheduling.timeseries import TimeSeries
from projections.readings_query import BeliefFilter, latest_values
from streams.schedule_inputs import ScheduleRequest, SchedulingInputError, price_sensor_ids


class ReadModelResolver:
    """The core's sensor resolver: a sensor's latest beliefs over the horizon, as known at the belief time.

    Prices (``price_ids``) with gaps are filled from the nearest known value; how many steps were
    filled is added to ``notes``. Other series keep NaN where nothing is known.
    """

    def __init__(self, conn: sa.Connection, request: ScheduleRequest, registry: RegistryView):
        self.conn, self.request, self.registry = conn, request, registry
        self.price_ids = price_sensor_ids(request.flex_context)
        self.cache: dict[int, TimeSeries] = {}

    def __call__(self, sensor_id: int | str) -> TimeSeries:
        try:
            key = int(sensor_id)
        except (TypeError, ValueError) as exc:
            raise LookupError(f"sensor {sensor_id!r}") from exc
        if key not in self.cache:
            self.cache[key] = self._load(key)
        return self.cache[key]

    def _load(self, sensor_id: int) -> TimeSeries:
        sensor = self.registry.sensor(sensor_id)
        if sensor is None:
            raise LookupError(f"sensor {sensor_id}")
        step_s = sensor.event_resolution_s or int(self.request.resolution.total_seconds())
        start_s = to_epoch_s(self.request.start) // step_s * step_s
        end_s = -(-to_epoch_s(self.request.end) // step_s) * step_s
        found = latest_values(self.conn, sensor_id, start_s, end_s, BeliefFilter(prior=self.request.belief_time))
        values = np.array([found.get(t, np.nan) for t in range(start_s, end_s, step_s)], dtype=float)
        if sensor_id in self.price_ids:
            values = self._fill_prices(sensor_id, values)
        start = datetime.fromtimestamp(start_s, tz=self.request.start.tzinfo)
        return TimeSeries(start, timedelta(seconds=step_s), values, sensor.unit)

    def _fill_prices(self, sensor_id: int, values: np.ndarray) -> np.ndarray:
        missing = np.isnan(values)
        if not missing.any():
            return values
        if missing.all():
            raise SchedulingInputError(
                "UNKNOWN_PRICES", f"Prices unknown for planning window (sensor {sensor_id}).", "flex-context"
            )
        index = np.where(~missing, np.arange(len(values)), -1)
        np.maximum.accumulate(index, out=index)
        first = int(np.argmax(~missing))
        index[index < 0] = first
        self.request.notes.append(
            f"Prices of sensor {sensor_id} were missing for {int(missing.sum())} of {len(values)} steps; "
            "the nearest known price was used."
        )
        return values[index]
