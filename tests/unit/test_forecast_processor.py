"""The forecasting processor and its pure parts: settings, learnable beliefs, jobs, determinism.

The processor tests drive :class:`streams.forecaster.ForecastProcessor` directly (no runner, no
log): events are read from a SQLite event store in a temporary folder and handed to
``process`` as the runner would, which makes replay and restart exact and quick.
"""

from __future__ import annotations

import math
import pickle
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from commands import registry as cmd
from commands.context import CommandContext
from commands.readings import RecordSensorData, record_sensor_data
from domain.beliefs import SensorDataRecorded
from domain.events import NewEvent, RecordedEvent
from domain.forecast_events import (
    LIVE_SOURCE,
    TRIGGER_SOURCE,
    ForecastMade,
    ForecastSettings,
    ForecastSettingsError,
    ForecastTriggered,
    finite_or_none,
    forecast_stream,
    job_event_id,
    learnable_values,
    live_forecast_event_id,
    settings_from_attributes,
)
from domain.forecast_jobs import JobWindow, NoDataError, walk_forward
from domain.forecasting import ForecasterConfig, SensorForecaster
from domain.jobs import job_stream
from infra.checkpoints import SqlCheckpointStore
from infra.eventstore.memory import MemoryEventStore
from infra.readmodels.database import sqlite_readmodels
from streams.forecaster import ForecastProcessor

T0 = datetime(2024, 1, 1, tzinfo=UTC)
STEP = timedelta(minutes=15)
ON = {"forecasting": {"horizon": "PT12H", "frequency": "PT6H"}}
READINGS, FORECASTS = "flexledger.readings:0", "flexledger.forecasts:0"


def load(n: int, start: datetime = T0) -> list[float]:
    """A daily shape plus a weekly one (kW); deterministic."""
    out = []
    for i in range(n):
        k = int((start - T0) / STEP) + i
        out.append(round(10 + 6 * math.sin(2 * math.pi * k / 96) + (3 if (k // 96) % 7 < 5 else 0), 6))
    return out


# -- pure parts ---------------------------------------------------------------------------


def test_settings_defaults_switches_and_errors() -> None:
    assert settings_from_attributes({}, "kW") is None
    assert settings_from_attributes({"forecasting": False}, "kW", triggered=True) is None
    assert settings_from_attributes({}, "kW", triggered=True) == ForecastSettings()
    assert settings_from_attributes({"forecasting": True}, "kW") == ForecastSettings()
    assert settings_from_attributes({"forecasting": {}}, "EUR/MWh").learn_from == "all"  # prices are published ahead
    parsed = settings_from_attributes(
        {"forecasting": {"horizon": "PT24H", "frequency": "PT30M", "country": "de", "regressors": [4, 5]}}, "kW"
    )
    assert parsed == ForecastSettings(timedelta(hours=24), timedelta(minutes=30), "DE", (4, 5), None, "measurements")
    for bad in ({"horizon": "soon"}, {"horizon": "-PT1H"}, {"country": "Netherlands"}, {"country": "XX"},
                {"regressors": ["x"]},
                {"learn_from": "everything"}, {"frequency": "P1M"}):  # fmt: skip
        with pytest.raises(ForecastSettingsError):
            settings_from_attributes({"forecasting": bad}, "kW")
    with pytest.raises(ForecastSettingsError):
        settings_from_attributes({"forecasting": "yes"}, "kW")


def _beliefs(values, **fields) -> SensorDataRecorded:
    defaults = dict(sensor_id=1, start=T0, resolution_s=900, unit="kW", source="u", received_at=T0 + timedelta(days=1))
    return SensorDataRecorded(values=values, **{**defaults, **fields})


def test_learnable_values_are_measurements_not_forecasts() -> None:
    assert learnable_values(_beliefs([1.0, None, 3.0]), "measurements", 900) == [(T0, 1.0), (T0 + 2 * STEP, 3.0)]
    # formed before the end of each event (a prognosis): not learned, unless learn_from="all"
    ahead = _beliefs([1.0, 2.0], prior=T0 - timedelta(hours=1))
    assert learnable_values(ahead, "measurements", 900) == []
    assert learnable_values(ahead, "all", 900) == [(T0, 1.0), (T0 + STEP, 2.0)]
    # horizon 0: formed exactly at each event's end counts as measured
    assert len(learnable_values(_beliefs([1.0, 2.0], horizon_s=0), "measurements", 900)) == 2
    # our own forecasts and other resolutions never
    assert learnable_values(_beliefs([1.0], source_type="forecaster"), "all", 900) == []
    assert learnable_values(_beliefs([1.0], resolution_s=3600), "all", 900) == []


def test_event_ids_are_deterministic() -> None:
    assert live_forecast_event_id(3, T0) == live_forecast_event_id(3, T0)
    assert live_forecast_event_id(3, T0) != live_forecast_event_id(3, T0 + STEP)
    assert live_forecast_event_id(3, T0) != live_forecast_event_id(4, T0)
    job = uuid.uuid4()
    assert job_event_id(job, "job-outcome") == job_event_id(job, "job-outcome") != job_event_id(job, "trigger")


def _window(start: datetime, hours: int, horizon_h: int, every_h: int, train_days: int = 14) -> JobWindow:
    return JobWindow(start, start + timedelta(hours=hours), STEP, timedelta(hours=horizon_h),
                     timedelta(hours=every_h), start - timedelta(days=train_days))  # fmt: skip


def test_walk_forward_after_the_data_forecasts_from_the_data_end() -> None:
    data_end = T0 + timedelta(days=14)
    readings = [(T0 + i * STEP, v) for i, v in enumerate(load(14 * 96))]
    start = data_end + timedelta(hours=2)  # two hours after the data: the horizons grow
    result = walk_forward(SensorForecaster(ForecasterConfig(resolution=STEP)), readings, _window(start, 6, 6, 6))
    assert len(result.values) == 24 and None not in result.values
    assert set(result.belief_times) == {data_end}
    assert result.runs() == [(0, 24, data_end)]
    truth = load(24, start)
    assert sum(abs(a - b) for a, b in zip(truth, result.values, strict=True)) / sum(truth) < 0.1


def test_walk_forward_inside_the_data_has_no_look_ahead() -> None:
    readings = [(T0 + i * STEP, v) for i, v in enumerate(load(21 * 96))]
    start = T0 + timedelta(days=14)
    forecaster = SensorForecaster(ForecasterConfig(resolution=STEP))
    result = walk_forward(forecaster, readings, _window(start, 12, 6, 3))
    # forecasts every 3 h, each made at its own time from the readings before it
    assert [b for b in dict.fromkeys(result.belief_times)] == [start + timedelta(hours=h) for h in (0, 3, 6, 9)]
    assert len(result.runs()) == 4
    assert forecaster.latest_event_start == start + timedelta(hours=9) - STEP


def test_walk_forward_without_data_fails() -> None:
    with pytest.raises(NoDataError):
        walk_forward(SensorForecaster(ForecasterConfig(resolution=STEP)), [], _window(T0, 6, 6, 6))


# -- the processor ------------------------------------------------------------------------


class Rig:
    """An in-memory event store and a read-model database in a folder, a sensor, and a processor to drive."""

    def __init__(self, home: Path, attributes: dict | None = None):
        home.mkdir(parents=True, exist_ok=True)
        self.store = MemoryEventStore()
        self.read_models = sqlite_readmodels(home / "readmodels.db")
        self.checkpoints = SqlCheckpointStore(self.read_models.write_engine)
        self.checkpoints.create_tables()
        self.ctx = CommandContext(self.store)
        self.processor = self.new_processor()
        self.processor.create_tables()
        self.fed = 0
        if attributes is not None:
            account = cmd.register_account(self.ctx, cmd.RegisterAccount(name="a"))
            site = cmd.RegisterAsset(account_id=account, name="s", asset_type="charge_site")
            asset = cmd.register_asset(self.ctx, site)
            self.sensor_id = cmd.register_sensor(
                self.ctx, cmd.RegisterSensor(asset_id=asset, name="power", unit="kW", event_resolution_s=900,
                                             attributes=attributes),
            )  # fmt: skip

    def new_processor(self) -> ForecastProcessor:
        """A processor on this rig's store and read models (as after a restart)."""
        return ForecastProcessor(self.store, self.read_models.write_engine, checkpoints=self.checkpoints)

    def post(self, start: datetime, values: list[float], **fields) -> None:
        command = RecordSensorData(sensor_id=self.sensor_id, start=start, duration=STEP * len(values), values=values,
                                   unit="kW", source="meter", **fields)  # fmt: skip
        record_sensor_data(self.ctx, command)

    def feed(self, processor: ForecastProcessor | None = None) -> int:
        """Hand every event since the last feed to the processor, per topic as the runner does."""
        processor = processor or self.processor
        events = self.store.read_all(self.fed, 1_000_000)
        for partition, category in ((READINGS, "sensordata"), (FORECASTS, "forecast")):
            batch = [e for e in events if e.category == category]
            if batch:
                processor.process(partition, batch)
        self.fed = max([self.fed, *(e.global_position for e in events)])
        return self.store.head_position()

    def produced(self) -> list[RecordedEvent]:
        """Everything the forecaster appended, in order."""
        return [e for e in self.store.read_all(0, 1_000_000) if e.metadata.actor == "forecaster"]

    def close(self) -> None:
        self.store.close()
        self.read_models.close()


@pytest.fixture
def rig(tmp_path: Path):
    rig = Rig(tmp_path / "a", ON)
    yield rig
    rig.close()


def test_learns_every_reading_and_forecasts_on_the_cadence(rig: Rig) -> None:
    rig.post(T0, load(96 * 2))
    rig.feed()
    stats = rig.processor.stats
    assert stats.learned == 192 and stats.forecasts == 8  # every 6 h of data
    produced = rig.produced()
    beliefs = [e.decode() for e in produced if e.type == "SensorDataRecorded"]
    assert [b.prior for b in beliefs] == [T0 + timedelta(hours=6 * k) for k in range(1, 9)]
    assert all(b.source == LIVE_SOURCE and b.source_type == "forecaster" and len(b.values) == 48 for b in beliefs)
    assert all(b.start == b.prior for b in beliefs)  # from the end of the data on
    made = [e.decode() for e in produced if e.type == "ForecastMade"]
    assert isinstance(made[-1], ForecastMade) and made[-1].learned == 192 and set(made[-1].selection) >= {"1h", "6h"}
    # its own forecasts come back on the log and are not learned
    rig.feed()
    assert rig.processor.stats.learned == 192 and rig.processor.model_state(rig.sensor_id).learned == 192


def test_prognoses_are_not_learned(rig: Rig) -> None:
    rig.post(T0, load(96))
    rig.post(T0 + timedelta(days=1), [99.0] * 8, prior=T0 + timedelta(hours=20))  # a posted prognosis
    rig.feed()
    assert rig.processor.model_state(rig.sensor_id).learned == 96


def test_restart_resumes_from_the_saved_state(rig: Rig, tmp_path: Path) -> None:
    rig.post(T0, load(96 * 3))
    rig.feed()
    restarted = rig.new_processor()
    assert restarted.checkpoint() == rig.processor.checkpoint() > 0
    rig.post(T0 + timedelta(days=3), load(96, T0 + timedelta(days=3)))
    rig.feed(restarted)
    assert restarted.stats.bootstraps == 0 and restarted.stats.learned == 96
    assert restarted.model_state(rig.sensor_id).learned == 4 * 96
    # exactly what one processor that never stopped appends
    assert _by_id(rig.produced()) == _by_id(_replayed_elsewhere(rig, tmp_path / "fresh"))


def _by_id(events: list[RecordedEvent]) -> dict[uuid.UUID, dict]:
    return {e.event_id: e.data for e in events}


def _replayed_elsewhere(rig: Rig, home: Path) -> list[RecordedEvent]:
    """What a fresh processor appends when the rig's inputs (not its outputs) are copied to a new store."""
    fresh = Rig(home)
    try:
        for event in rig.store.read_all(0, 1_000_000):
            if event.metadata.actor != "forecaster":
                copy = NewEvent(event_id=event.event_id, type=event.type, schema_version=event.schema_version,
                                data=event.data, metadata=event.metadata)  # fmt: skip
                fresh.store.append(event.stream_id, [copy])
        fresh.feed()
        return fresh.produced()
    finally:
        fresh.close()


def test_replay_from_zero_appends_nothing_new(rig: Rig) -> None:
    rig.post(T0, load(96 * 2))
    head = rig.feed()
    before = rig.processor.model_state(rig.sensor_id)
    rig.processor.reset()
    replayer = rig.new_processor()
    assert replayer.checkpoint() == 0
    rig.fed = 0
    assert rig.feed(replayer) == head
    assert replayer.stats.emitted > 0 and replayer.stats.appended == 0
    after = replayer.model_state(rig.sensor_id)
    assert (after.learned, after.selection(), finite_or_none(after.running_errors())) == (
        before.learned, before.selection(), finite_or_none(before.running_errors())
    )


def test_switching_forecasting_on_late_gives_the_same_forecasts(rig: Rig, tmp_path: Path) -> None:
    """A sensor switched on after its data were stored forecasts exactly as one that was on from the start."""
    rig.post(T0, load(96 * 2))
    rig.feed()
    late = Rig(tmp_path / "late", {})
    try:
        late.post(T0, load(96 * 2))
        late.feed()
        assert late.produced() == []
        cmd.change_sensor(late.ctx, cmd.ChangeSensor(sensor_id=late.sensor_id, changes={"attributes": ON}))
        late.post(T0 + timedelta(days=2), [1.0], prior=T0)  # any reading wakes the sensor up (this one is a prognosis)
        late.feed()
        assert late.processor.stats.bootstraps == 1
        ours = {e.event_id: e.data for e in rig.produced()}
        theirs = {e.event_id: e.data for e in late.produced()}
        assert ours and ours == theirs
    finally:
        late.close()


def test_switching_off_stops_forecasting(rig: Rig) -> None:
    rig.post(T0, load(96))
    rig.feed()
    cmd.change_sensor(rig.ctx, cmd.ChangeSensor(sensor_id=rig.sensor_id, changes={"attributes": {}}))
    rig.post(T0 + timedelta(days=1), load(96, T0 + timedelta(days=1)))
    count = len(rig.produced())
    rig.feed()
    assert len(rig.produced()) == count and rig.processor.model_state(rig.sensor_id) is None


def test_a_replay_after_the_settings_changed_gives_the_same_forecasts(rig: Rig, tmp_path: Path) -> None:
    """The sensor's registration is read as of each reading, so a replay (all inputs in one batch,
    after the sensor's forecast settings changed) forecasts exactly as the live run did."""
    rig.post(T0, load(96 * 2))
    rig.feed()
    assert rig.produced()
    shorter = {"forecasting": {"horizon": "PT6H", "frequency": "PT3H"}}
    cmd.change_sensor(rig.ctx, cmd.ChangeSensor(sensor_id=rig.sensor_id, changes={"attributes": shorter}))
    assert _by_id(rig.produced()) == _by_id(_replayed_elsewhere(rig, tmp_path / "replay"))


def _trigger(rig: Rig, start: datetime, hours: int, **fields) -> uuid.UUID:
    job_id = uuid.uuid4()
    trigger = ForecastTriggered(job_id=job_id, sensor_id=rig.sensor_id, start=start, end=start + timedelta(hours=hours),
                                max_horizon_s=hours * 3600, frequency_s=hours * 3600,
                                train_start=start - timedelta(days=30), **fields)  # fmt: skip
    rig.store.append(forecast_stream(rig.sensor_id), [rig.ctx.new_event(trigger, job_event_id(job_id, "trigger"))])
    return job_id


def test_a_trigger_becomes_a_finished_job_with_beliefs(rig: Rig) -> None:
    rig.post(T0, load(96 * 14))
    end = T0 + timedelta(days=14)
    job_id = _trigger(rig, end, 6)
    head = rig.feed()
    outcome = rig.store.read_stream(job_stream(job_id))
    assert [e.type for e in outcome] == ["JobRequested", "JobFinished"]
    result = outcome[-1].data["result"]
    assert (result["start"], result["duration"], result["unit"], len(result["values"])) == (end.isoformat(), "PT6H",
                                                                                          "kW", 24)  # fmt: skip
    assert result["belief_time"] == end.isoformat()
    truth = load(24, end)
    assert sum(abs(a - b) for a, b in zip(truth, result["values"], strict=True)) / sum(truth) < 0.15
    beliefs = [e.decode() for e in rig.produced() if e.data.get("source") == TRIGGER_SOURCE]
    assert [b.values for b in beliefs] == [result["values"]]
    # a replay of the trigger does not compute the job again
    rig.fed = 0
    assert rig.feed(rig.new_processor()) == head


def test_a_trigger_without_data_fails_and_a_trigger_switches_live_forecasting_on(tmp_path: Path) -> None:
    rig = Rig(tmp_path / "off", {})
    try:
        failed = _trigger(rig, T0, 6)
        rig.feed()
        outcome = rig.store.read_stream(job_stream(failed))[-1]
        assert outcome.type == "JobFailed" and outcome.data["code"] == "NO_DATA"
        rig.post(T0, load(96))  # the triggered sensor is now forecast live, with the defaults (every hour)
        rig.feed()
        assert rig.processor.stats.forecasts == 24
    finally:
        rig.close()


def test_regressors_are_looked_up_as_known_at_the_time(rig: Rig) -> None:
    other = cmd.register_sensor(rig.ctx, cmd.RegisterSensor(asset_id=1, name="temperature", unit="°C",
                                                            event_resolution_s=3600))  # fmt: skip
    record_sensor_data(rig.ctx, RecordSensorData(sensor_id=other, start=T0, duration=timedelta(days=2),
                                                 values=[5.0 + h % 24 for h in range(48)], unit="°C", source="w"))
    cmd.change_sensor(rig.ctx, cmd.ChangeSensor(sensor_id=rig.sensor_id, changes={
        "attributes": {"forecasting": {"horizon": "PT12H", "frequency": "PT6H", "regressors": [other]}}}))
    rig.post(T0, load(96))
    rig.feed()
    forecaster = rig.processor.model_state(rig.sensor_id)
    assert forecaster.learned == 96 and forecaster.last_regressors == {f"sensor_{other}": 28.0}


def test_invalid_settings_leave_the_sensor_alone_without_stopping_the_processor(tmp_path: Path) -> None:
    rig = Rig(tmp_path / "bad", {"forecasting": {"models": ["crystal_ball"]}})
    try:
        rig.post(T0, load(96))
        rig.feed()
        assert rig.produced() == [] and rig.processor.checkpoint() > 0
        assert any("crystal_ball" in warning for warning in rig.processor.stats.warnings)
    finally:
        rig.close()


def test_a_missing_hour_still_gets_its_forecast_and_the_range_comes_from_the_asset(rig: Rig) -> None:
    values = load(96 * 2)
    gap = range(96 + 20, 96 + 24)  # 05:00-06:00 of day 2: the reading before the 30 h cadence point
    rig.post(T0, values[: gap.start])
    rig.post(T0 + gap.stop * STEP, values[gap.stop :])
    rig.feed()
    beliefs = [e.decode() for e in rig.produced() if e.type == "SensorDataRecorded"]
    assert [b.prior for b in beliefs] == [T0 + timedelta(hours=6 * k) for k in range(1, 9)]
    missed = next(b for b in beliefs if b.prior == T0 + timedelta(hours=30))
    assert missed.start == missed.prior and len(missed.values) == 48  # made from the data up to 29:00
    # a "charge_site" asset: consumption only, so never forecast below 0
    assert rig.processor.model_state(rig.sensor_id).config.value_range == (0.0, None)
    assert all(v >= 0.0 for b in beliefs for v in b.values)


def test_a_state_of_an_older_model_version_is_rebuilt(rig: Rig) -> None:
    import sqlalchemy as sa

    from domain.forecasting.forecaster import STATE_VERSION
    from streams.forecaster import forecaster_state

    rig.post(T0, load(96))
    rig.feed()
    old = pickle.dumps((STATE_VERSION - 1, "an older model"))
    with rig.read_models.write_engine.begin() as conn:
        conn.execute(sa.update(forecaster_state).values(state=old))
    restarted = ForecastProcessor(rig.store, rig.read_models.write_engine, checkpoints=rig.checkpoints)
    rig.post(T0 + timedelta(days=1), load(96, T0 + timedelta(days=1)))
    rig.feed(restarted)
    assert restarted.stats.bootstraps == 1 and restarted.model_state(rig.sensor_id).learned == 2 * 96
