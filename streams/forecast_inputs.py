"""What the forecaster reads from the event store: sensors as registered, readings, regressors.

The forecaster reads streams of the event store (not other read models), bounded by global
position where it matters, so that what it learns does not depend on how far other processors
have got: a replay from position 0 sees exactly what the live run saw.

* :class:`SensorDirectory` — a sensor's registration (unit, resolution, timezone, attributes)
  folded from its ``sensor-<id>`` stream; re-read at most once per batch.
* :func:`stream_events` — a stream's events in order, paged.
* :func:`training_readings` — a sensor's learnable readings before a position, one value per
  slot (the latest belief wins), sorted by event start.
* :class:`RegressorBook` — other sensors' values per slot, each with the position at which it
  became known, so "the value as known at position P" is a pure look-up.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta

from domain.beliefs import SensorDataRecorded, to_epoch_s
from domain.events import RecordedEvent
from domain.forecast_events import FORECASTER_SOURCE_TYPE, LIVE_SOURCE, LearnFrom, forecast_stream, learnable_values
from domain.ports.event_store import EventStore
from domain.registry import SensorRegistered, evolve, stream_of

PAGE = 500


def sensor_data_stream(sensor_id: int) -> str:
    return f"sensordata-{sensor_id}"


def newest_live_forecast(store: EventStore, sensor_id: int) -> datetime | None:
    """Belief time of the newest live ``ForecastMade`` stored in ``forecast-<sensor_id>`` (None: none yet)."""
    revision, page_size = -1, 50
    while True:
        page = store.read_stream(forecast_stream(sensor_id), revision, backwards=True, limit=page_size)
        for recorded in page:
            if recorded.type == "ForecastMade" and recorded.data.get("source") == LIVE_SOURCE:
                return recorded.decode().belief_time
        if len(page) < page_size or page[-1].stream_revision == 0:
            return None
        revision = page[-1].stream_revision - 1


def stream_events(store: EventStore, stream_id: str, from_revision: int = 0) -> Iterator[RecordedEvent]:
    """Every event of ``stream_id`` from ``from_revision`` on, in order (read in pages)."""
    revision = from_revision
    while True:
        page = store.read_stream(stream_id, from_revision=revision, limit=PAGE)
        yield from page
        if len(page) < PAGE:
            return
        revision = page[-1].stream_revision + 1


def is_own_forecast(recorded: RecordedEvent) -> bool:
    """A forecaster's belief (cheap: no decoding)."""
    return recorded.data.get("source_type") == FORECASTER_SOURCE_TYPE


class SensorDirectory:
    """Sensors as registered in the event store; ``None`` for unknown or deleted sensors.

    ``get(sensor_id, before_position)`` is the sensor as it was just before that global position
    (the reading or trigger being processed), so a replay reads the registration the live run
    read, also after the sensor's settings changed; without a position, the newest known.
    """

    def __init__(self, store: EventStore):
        self.store = store
        self._versions: dict[int, tuple[int, list[tuple[int, SensorRegistered | None]]]] = {}
        """Per sensor: (last revision read, [(global position, state from there on)])."""
        self._fresh: set[int] = set()

    def new_batch(self) -> None:
        """Forget which sensors were re-read: each is re-read (from its last revision) once per batch."""
        self._fresh.clear()

    def get(self, sensor_id: int, before_position: int | None = None) -> SensorRegistered | None:
        revision, versions = self._versions.get(sensor_id, (-1, []))
        if sensor_id not in self._fresh:
            sensor = versions[-1][1] if versions else None
            for recorded in stream_events(self.store, stream_of("sensor", sensor_id), revision + 1):
                sensor = evolve(sensor, recorded.decode())
                revision = recorded.stream_revision
                versions.append((recorded.global_position, sensor))
            self._versions[sensor_id] = (revision, versions)
            self._fresh.add(sensor_id)
        if before_position is None:
            return versions[-1][1] if versions else None
        i = bisect_left(versions, before_position, key=lambda version: version[0])
        return versions[i - 1][1] if i else None

    def asset_type(self, asset_id: int) -> str | None:
        """The asset's type (``None`` for an unknown or deleted asset); read once per sensor build."""
        asset = None
        for recorded in stream_events(self.store, stream_of("asset", asset_id)):
            asset = evolve(asset, recorded.decode())
        return getattr(asset, "asset_type", None)


def training_readings(
    store: EventStore,
    sensor_id: int,
    learn_from: LearnFrom,
    resolution_s: int,
    before_position: int,
    first: datetime,
    end: datetime,
) -> list[tuple[datetime, float]]:
    """Learnable (event start, value) of the sensor in ``[first, end)`` stored before ``before_position``.

    One value per event start: the belief stored last (a correction replaces the first value).
    """
    latest: dict[datetime, float] = {}
    for recorded in stream_events(store, sensor_data_stream(sensor_id)):
        if recorded.global_position >= before_position:
            break
        if is_own_forecast(recorded) or recorded.type != "SensorDataRecorded":
            continue
        for start, value in learnable_values(recorded.decode(), learn_from, resolution_s):
            if first <= start < end:
                latest[start] = value
    return sorted(latest.items())


class RegressorBook:
    """Values of regressor sensors per event start, as known at a global position.

    Every belief counts (measurements, published prices, forecasts, ours included); for a slot
    the belief stored last before the position wins. Names are ``sensor_<id>``.

    Memory is bounded by ``keep_s`` (seconds of event time), not by history: after each batch
    a sensor's slots older than the newest slot asked for minus ``keep_s`` are dropped, and that
    moment becomes the sensor's *floor*. Slots at or after the floor hold every belief ever stored
    for them (beliefs for older slots are not kept), so a look-up there is exact; a look-up
    before the floor (a bootstrap over old history, a forecast job for a past period) reloads
    the sensor's whole stream for the rest of the batch. The answers are the same as with an
    unbounded book; only their cost differs. The book itself is a cache: the event store is
    where the values persist.
    """

    def __init__(self, store: EventStore, keep_s: int = 14 * 86400):
        self.store, self.keep_s = store, keep_s
        self._values: dict[int, dict[int, list[tuple[int, float]]]] = {}
        self._resolution_s: dict[int, int] = {}
        self._revision: dict[int, int] = {}
        self._floor: dict[int, int] = {}  # event start (epoch s) before which no slot is kept
        self._asked: dict[int, int] = {}  # the newest slot (epoch s) asked for
        self._fresh: set[int] = set()

    def new_batch(self) -> None:
        for sensor_id in self._fresh:
            self._trim(sensor_id)
        self._fresh.clear()

    def slots(self) -> int:
        """How many (sensor, slot) entries the book holds (bounded by ``keep_s``)."""
        return sum(len(values) for values in self._values.values())

    def _trim(self, sensor_id: int) -> None:
        values, asked = self._values.get(sensor_id), self._asked.get(sensor_id)
        if not values or asked is None:
            return
        floor = asked - self.keep_s
        if floor <= self._floor.get(sensor_id, -math.inf):
            return
        self._floor[sensor_id] = floor
        for start_s in [s for s in values if s < floor]:
            del values[start_s]

    def _refresh(self, sensor_id: int) -> None:
        if sensor_id in self._fresh:
            return
        values = self._values.setdefault(sensor_id, {})
        floor = self._floor.get(sensor_id, -math.inf)
        for recorded in stream_events(self.store, sensor_data_stream(sensor_id), self._revision.get(sensor_id, -1) + 1):
            self._revision[sensor_id] = recorded.stream_revision
            if recorded.type != "SensorDataRecorded":
                continue
            event: SensorDataRecorded = recorded.decode()  # type: ignore[assignment]
            self._resolution_s[sensor_id] = event.resolution_s
            start_s = to_epoch_s(event.start)
            for i, value in enumerate(event.values):
                slot = start_s + i * event.resolution_s
                if value is not None and slot >= floor:
                    values.setdefault(slot, []).append((recorded.global_position, value))
        self._fresh.add(sensor_id)

    def _reload(self, sensor_id: int) -> None:
        """Forget the floor and read the sensor's whole stream again (trimmed after the batch)."""
        for book in (self._values, self._revision, self._floor):
            book.pop(sensor_id, None)
        self._fresh.discard(sensor_id)
        self._refresh(sensor_id)

    def value(self, sensor_id: int, moment: datetime, before_position: int) -> float | None:
        """The regressor's value for the slot holding ``moment``, as stored before ``before_position``."""
        self._refresh(sensor_id)
        step = self._resolution_s.get(sensor_id)
        if not step:
            return None
        start_s = to_epoch_s(moment) // step * step
        self._asked[sensor_id] = max(start_s, self._asked.get(sensor_id, start_s))
        if start_s < self._floor.get(sensor_id, -math.inf):
            self._reload(sensor_id)
        for position, value in reversed(self._values[sensor_id].get(start_s, ())):
            if position < before_position:
                return value
        return None

    def at(self, sensor_ids: Sequence[int], moment: datetime, before_position: int) -> dict[str, float] | None:
        """``{"sensor_<id>": value}`` of the regressors known for ``moment`` (``None``: none configured)."""
        if not sensor_ids:
            return None
        found = {f"sensor_{s}": self.value(s, moment, before_position) for s in sensor_ids}
        return {name: value for name, value in found.items() if value is not None}

    def future(
        self, sensor_ids: Sequence[int], start: datetime, steps: int, resolution: timedelta, before_position: int
    ) -> dict[str, list[float]] | None:
        """Per regressor, one value per step from ``start`` (NaN where unknown)."""
        if not sensor_ids:
            return None
        out = {}
        for sensor_id in sensor_ids:
            series = [self.value(sensor_id, start + k * resolution, before_position) for k in range(steps)]
            out[f"sensor_{sensor_id}"] = [math.nan if v is None else v for v in series]
        return out
