"""The forecasting processor: online models per sensor, fed by the readings on the log.

Topics: the readings (``sensordata-*``: every ``SensorDataRecorded``) and the forecasts
category (``forecast-*``: :class:`~domain.forecast_events.ForecastTriggered`). Its own output
comes back on both; the store followers do not hand it over (``passes_over``).

* **Which sensors** — those whose ``forecasting`` attribute switches it on (format in
  :mod:`domain.forecast_events`), plus those named in a forecast trigger (with the defaults).
  The registration is read from the sensor's registry stream in the event store.
* **Learning** — every learnable belief (measurements; see ``learn_from``) is learned in stream
  order (``SensorForecaster.learn``); each time the data reach the ``frequency`` grid (default:
  every hour of data) the horizon (default 48 h) is forecast. A sensor seen for the first time,
  or whose settings changed, is (re)built from its whole stream ("bootstrap"), which emits the
  same forecasts as learning live would have, so when a sensor is switched on does not matter.
* **Output** — each forecast is a ``SensorDataRecorded`` (source ``forecaster:auto``,
  ``source_type`` forecaster, belief time = end of the latest reading learned, in data time)
  on ``sensordata-<id>`` plus a :class:`~domain.forecast_events.ForecastMade` on
  ``forecast-<id>``, in that order. The summary is compact (readings learned, no error table)
  except for the forecast at 00:00 UTC of each day of data and the last one of each readings
  event, which carry the model choice and running errors (kept in the checkpointed model state
  in between). During a long catch-up the events are appended every 500 forecasts, so the
  forecasts and ``learned`` (``GET /sensors/{id}/forecasting``) grow as it goes. Ids derive
  from (sensor, belief time); a forecast at or before the newest stored ``ForecastMade`` is
  not appended again (KurrentDB knows ids only within a window), so a replay from position 0
  appends nothing (``stats.appended`` 0).
* **Triggers** — each ``ForecastTriggered`` becomes a job outcome (:mod:`streams.forecast_jobs`).
* **Checkpoint** — events are appended first (idempotent), then every touched sensor's model
  state (``SensorForecaster.to_state``) and its stream position are written together with the
  processor's per-partition checkpoint in one read-model transaction (table
  ``forecaster_state``, checkpoints in the shared checkpoint store under ``forecaster``). A
  restart resumes from there without relearning; :func:`reset_forecaster` forgets everything
  so that the next start replays from position 0.

Values are in each sensor's unit (power: consumption positive, production negative).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa

from domain.beliefs import SensorDataRecorded
from domain.events import RecordedEvent
from domain.forecast_events import (
    LIVE_SOURCE,
    ForecastMade,
    ForecastSettings,
    ForecastSettingsError,
    compact_forecast_made_data,
    finite_or_none,
    forecast_beliefs_data,
    forecast_made_event_id,
    forecast_stream,
    learnable_values,
    live_forecast_event_id,
    settings_from_attributes,
)
from domain.forecasting import Forecast, ForecasterConfig, SensorForecaster
from domain.forecasting.compiled import warm_up
from domain.forecasting.service import service_config
from domain.ports.checkpoints import CheckpointStore, done_position, resume_position
from domain.ports.event_store import EventStore
from domain.registry import SensorRegistered
from streams import forecast_inputs
from streams.forecast_inputs import RegressorBook, SensorDirectory, is_own_forecast, sensor_data_stream, stream_events
from streams.forecast_jobs import forecast_job_events, job_ended
from streams.forecast_outbox import ForecasterStats, Outbox
from streams.forecaster_state import (  # noqa: F401 - forecaster_state, reset_forecaster: re-exported
    NAME,
    SensorModel,
    _from_row,
    _to_row,
    forecaster_state,
    metadata,
    reset_forecaster,
)
from streams.topics import CATEGORY_TOPICS, TOPIC_READINGS

log = logging.getLogger(__name__)
FORECAST_TOPIC = CATEGORY_TOPICS["forecast"]
TOPICS = (TOPIC_READINGS, FORECAST_TOPIC)
BROKEN = "broken:"
MODEL_ERRORS = (ValueError, ArithmeticError, IndexError, KeyError)
"""Errors of a sensor's model (its data or settings); database and event-store errors propagate (retried)."""
BELIEFS_TYPE, BELIEFS_VERSION = SensorDataRecorded.event_type, SensorDataRecorded.schema_version
SUMMARY_TYPE, SUMMARY_VERSION = ForecastMade.event_type, ForecastMade.schema_version


def live_config(
    settings: ForecastSettings, sensor: SensorRegistered, asset_type: str | None = None
) -> ForecasterConfig:
    """The live forecaster's config for a sensor (raises ValueError when it cannot be forecast)."""
    return service_config(settings, sensor, asset_type)


class ForecastProcessor:
    """A :class:`streams.runner.Processor` keeping per-sensor online forecasters (module docstring)."""

    name = NAME
    topics = TOPICS

    def __init__(self, store: EventStore, engine: sa.Engine, *, checkpoints: CheckpointStore, flush_at: int = 1000):
        """``flush_at``: events (two per forecast) gathered before they are appended mid-batch."""
        self.store, self.engine, self.checkpoints = store, engine, checkpoints
        self.flush_at = flush_at
        self.directory = SensorDirectory(store)
        self.book = RegressorBook(store)
        self.stats = ForecasterStats()
        self._models: dict[int, SensorModel] = {}
        self._checkpoints: dict[str, int] | None = None
        self._marks: dict[int, datetime | None] = {}  # sensor -> belief time of its newest stored forecast
        warm_up()  # the models' compiled kernels load now, at start-up, not on the first reading

    # -- the Processor protocol -----------------------------------------------------------

    def create_tables(self) -> None:
        """Create the model-state table when missing (the composition root's storage step)."""
        metadata.create_all(self.engine)

    def checkpoint(self) -> int:
        return resume_position(self.checkpoints.load(NAME))

    def advance(self, partition: str, position: int) -> None:
        """Nothing for the forecaster in ``partition`` up to ``position``: move the checkpoint there."""
        if position > self._done(partition):
            self._save(partition, position, set())

    def passes_over(self, recorded: RecordedEvent) -> bool:
        """Whether ``recorded`` means nothing to the forecaster (its own forecasts and summaries, any
        event but readings and triggers), told from its stored type and data: the store followers
        do not hand such events over (:mod:`streams.follower`)."""
        return not (is_learnable_reading(recorded) or recorded.type == "ForecastTriggered")

    def process(self, partition: str, events: Sequence[RecordedEvent]) -> int:
        done = self._done(partition)
        last = max([done, *(e.global_position for e in events)])
        self.directory.new_batch()
        self.book.new_batch()
        outbox = Outbox(self.store, self.stats, self.flush_at)
        touched: set[int] = set()
        try:
            for recorded in events:
                if recorded.global_position > done:
                    self._dispatch(recorded, outbox, touched)
            outbox.flush()
            self._save(partition, last, touched)
        except Exception:
            self._models.clear()  # the cache may be ahead of what was saved: reload on retry
            self._checkpoints = None
            self._marks.clear()
            raise
        return last

    # -- events ---------------------------------------------------------------------------

    def _dispatch(self, recorded: RecordedEvent, outbox: Outbox, touched: set[int]) -> None:
        if is_learnable_reading(recorded):
            self._on_reading(recorded, outbox, touched)
        elif recorded.type == "ForecastTriggered":
            self._on_trigger(recorded, outbox, touched)

    def _on_reading(self, recorded: RecordedEvent, outbox: Outbox, touched: set[int]) -> None:
        model = self._model(int(recorded.data["sensor_id"]))
        found = self._sensor_settings(model, recorded.global_position)
        if found is None:
            self._switch_off(model, touched)
            return
        sensor, settings = found
        key = model_key(sensor, settings)
        if model.settings_key == BROKEN + key:
            return  # failed with these settings before: wait for new settings
        touched.add(model.sensor_id)
        try:
            if model.forecaster is None or model.settings_key != key:
                self._bootstrap(model, sensor, settings, outbox)
            elif recorded.global_position > model.position:
                self._learn(model, sensor, settings, recorded, outbox)
        except MODEL_ERRORS as exc:  # the sensor's data or settings, not the infrastructure: stop this sensor
            self._warn(f"sensor {model.sensor_id} is no longer forecast (until its settings change): {exc!r}")
            model.forecaster, model.settings_key, model.position = None, BROKEN + key, 0

    def _on_trigger(self, recorded: RecordedEvent, outbox: Outbox, touched: set[int]) -> None:
        job_id = uuid.UUID(str(recorded.data["job_id"]))
        if not job_ended(self.store, job_id):
            for stream_id, event, event_id in forecast_job_events(self.store, self.directory, self.book, recorded):
                outbox.add(stream_id, event, event_id, recorded)
            self.stats.jobs += 1
        model = self._model(int(recorded.data["sensor_id"]))
        if not model.triggered:
            model.triggered = True
            touched.add(model.sensor_id)
        found = self._sensor_settings(model, recorded.global_position)
        if found is not None and (model.forecaster is None or model.settings_key != model_key(*found)):
            self._on_reading(recorded, outbox, touched)  # builds the live model now, as a reading would

    def _switch_off(self, model: SensorModel, touched: set[int]) -> None:
        if model.forecaster is not None:
            model.forecaster, model.settings_key, model.position = None, "", 0
            touched.add(model.sensor_id)

    # -- models ---------------------------------------------------------------------------

    def _sensor_settings(
        self, model: SensorModel, position: int
    ) -> tuple[SensorRegistered, ForecastSettings] | None:
        """The sensor (as registered before ``position``) and its settings when it is to be
        forecast (and can be), else ``None``."""
        sensor = self.directory.get(model.sensor_id, position)
        if sensor is None:
            return None
        try:
            settings = settings_from_attributes(sensor.attributes, sensor.unit, model.triggered)
            if settings is not None:
                live_config(settings, sensor)
        except (ForecastSettingsError, ValueError) as exc:
            self._warn(f"sensor {model.sensor_id} is not forecast: {exc}")
            return None
        return None if settings is None else (sensor, settings)

    def _bootstrap(
        self, model: SensorModel, sensor: SensorRegistered, settings: ForecastSettings, outbox: Outbox
    ) -> None:
        """(Re)build the sensor's model from its whole stream, emitting what live learning would."""
        model.forecaster = SensorForecaster(live_config(settings, sensor, self.directory.asset_type(sensor.asset_id)))
        model.settings_key, model.position = model_key(sensor, settings), 0
        for recorded in stream_events(self.store, sensor_data_stream(model.sensor_id)):
            if is_learnable_reading(recorded):
                self._learn(model, sensor, settings, recorded, outbox)
                outbox.flush(only_if_full=True)
            model.position = max(model.position, recorded.global_position)
        self.stats.bootstraps += 1

    def _learn(
        self, model: SensorModel, sensor: SensorRegistered, settings: ForecastSettings, recorded: RecordedEvent,
        outbox: Outbox,
    ) -> None:
        forecaster = model.forecaster
        assert forecaster is not None
        position = recorded.global_position
        resolution = sensor.event_resolution

        def future_for(now):
            return self.book.future(settings.regressors, now, forecaster.horizon_steps, resolution, position)

        held: tuple[Forecast, int] | None = None  # the event's latest forecast (and readings learned then)
        for start, value in learnable_values(recorded.decode(), settings.learn_from, sensor.event_resolution_s):
            regressors = self.book.at(settings.regressors, start, position)
            # learns the reading and makes every forecast due, also those a missing reading skipped
            made = forecaster.observe_all(start, value, regressors, future_for)
            if made is None:
                continue
            self.stats.learned += 1
            for forecast in made:
                if held is not None:
                    self._emit(model.sensor_id, sensor, forecaster, *held, recorded, outbox, full=False)
                held = (forecast, forecaster.learned)
                if forecast.now_start.timestamp() % 86_400 == 0:  # once a day of data: the running errors
                    self._emit(model.sensor_id, sensor, forecaster, *held, recorded, outbox, full=True)
                    held = None
            outbox.flush(only_if_full=True)  # a long catch-up shows its forecasts as it goes
        if held is not None:  # the running errors as of the event's last reading
            self._emit(model.sensor_id, sensor, forecaster, *held, recorded, outbox, full=True)
        model.position = max(model.position, position)

    def _emit(
        self, sensor_id: int, sensor: SensorRegistered, forecaster: SensorForecaster, made: Forecast, learned: int,
        cause: RecordedEvent, outbox: Outbox, full: bool,
    ) -> None:
        """Append the forecast's beliefs and its summary (``full``: with the running errors)."""
        belief_time = made.now_start
        if self._already_stored(sensor_id, belief_time):  # a replay: stored by an earlier run
            self.stats.forecasts += 1
            self.stats.emitted += 2
            return
        self._marks[sensor_id] = belief_time
        beliefs = forecast_beliefs_data(
            sensor_id, sensor.unit, made.now_start, made.resolution, made.values, belief_time, LIVE_SOURCE
        )
        beliefs_id = live_forecast_event_id(sensor_id, belief_time)
        outbox.add_data(sensor_data_stream(sensor_id), BELIEFS_TYPE, BELIEFS_VERSION, beliefs, beliefs_id, cause)
        resolution_s, summary_id = int(made.resolution.total_seconds()), forecast_made_event_id(sensor_id, belief_time)
        if full:
            summary = ForecastMade(
                sensor_id=sensor_id,
                belief_time=belief_time,
                start=made.now_start,
                resolution_s=resolution_s,
                n_values=len(made.values),
                source=LIVE_SOURCE,
                learned=learned,
                selection=forecaster.selection(),
                running_errors=finite_or_none(forecaster.running_errors()),
            )
            outbox.add(forecast_stream(sensor_id), summary, summary_id, cause)
        else:
            compact = compact_forecast_made_data(
                sensor_id, belief_time, made.now_start, resolution_s, len(made.values), LIVE_SOURCE, learned
            )
            outbox.add_data(forecast_stream(sensor_id), SUMMARY_TYPE, SUMMARY_VERSION, compact, summary_id, cause)
        self.stats.forecasts += 1

    def _already_stored(self, sensor_id: int, belief_time: datetime) -> bool:
        """At or before the sensor's newest stored ``ForecastMade`` (not by id: module docstring)."""
        if sensor_id not in self._marks:
            self._marks[sensor_id] = forecast_inputs.newest_live_forecast(self.store, sensor_id)
        return self._marks[sensor_id] is not None and belief_time <= self._marks[sensor_id]

    def _warn(self, message: str) -> None:
        if message not in self.stats.warnings:
            self.stats.warnings.append(message)
            log.warning(message)

    # -- state ----------------------------------------------------------------------------

    def _model(self, sensor_id: int) -> SensorModel:
        if sensor_id not in self._models:
            with self.engine.connect() as conn:
                row = conn.execute(
                    sa.select(forecaster_state).where(forecaster_state.c.sensor_id == sensor_id)
                ).mappings().first()
            self._models[sensor_id] = _from_row(row) if row else SensorModel(sensor_id)
        return self._models[sensor_id]

    def _done(self, partition: str) -> int:
        if self._checkpoints is None:
            self._checkpoints = self.checkpoints.load(NAME)
        return done_position(self._checkpoints, partition)

    def _save(self, partition: str, position: int, touched: set[int]) -> None:
        rows = [_to_row(self._models[sensor_id]) for sensor_id in sorted(touched)]
        with self.engine.begin() as conn:
            if rows:
                conn.execute(forecaster_state.delete().where(forecaster_state.c.sensor_id.in_(sorted(touched))))
                conn.execute(forecaster_state.insert(), rows)
            if position > self._done(partition):
                self.checkpoints.save(NAME, partition, position, within=conn)
        if self._checkpoints is not None:
            self._checkpoints[partition] = max(position, self._checkpoints.get(partition, 0))

    def model_state(self, sensor_id: int) -> SensorForecaster | None:
        """The sensor's live forecaster as saved (for tests and tools; not the in-memory one)."""
        with self.engine.connect() as conn:
            blob = conn.execute(
                sa.select(forecaster_state.c.state).where(forecaster_state.c.sensor_id == sensor_id)
            ).scalar()
        return None if blob is None else SensorForecaster.from_state(blob)

    def reset(self) -> None:
        """Forget every model and the checkpoints: the next start replays from position 0."""
        reset_forecaster(self.engine, self.checkpoints)
        self._models.clear()
        self._marks.clear()
        self._checkpoints = None


def is_learnable_reading(recorded: RecordedEvent) -> bool:
    """A ``SensorDataRecorded`` that is no forecaster's belief (cheap: no decoding)."""
    return recorded.type == "SensorDataRecorded" and not is_own_forecast(recorded)


def model_key(sensor: SensorRegistered, settings: ForecastSettings) -> str:
    """What a live model is built from: a change of any of it rebuilds the model."""
    return f"{settings.key()};tz={sensor.timezone};res={sensor.event_resolution_s}"
