"""The live forecaster's ``ForecastMade`` summaries: compact, with the running errors once a day
of data and with each readings event's latest forecast; the read model keeps the latest errors."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from test_forecast_processor import ON, T0, Rig, load

from commands.context import CommandContext
from domain.events import NewEvent
from domain.forecast_events import finite_or_none
from domain.ports.event_store import ANY
from infra.eventstore.memory import MemoryEventStore
from projections.forecast_models import ForecastModelsProjection, forecast_model, metadata
from streams.forecaster import ForecastProcessor


@pytest.fixture
def rig(tmp_path: Path):
    rig = Rig(tmp_path / "a", ON)
    yield rig
    rig.close()


def _project(rig: Rig, since: int) -> None:
    summaries = [e for e in rig.produced()[since:] if e.type == "ForecastMade"]
    with rig.read_models.write_engine.begin() as conn:
        ForecastModelsProjection().apply(conn, summaries)


def test_summaries_are_compact_except_daily_and_at_the_end(rig: Rig) -> None:
    rig.post(T0, load(96 * 3 + 40))  # one event: 3 days and 10 h, a forecast every 6 h of data
    rig.feed()
    made = [e.decode() for e in rig.produced() if e.type == "ForecastMade"]
    full = [m.belief_time for m in made if m.running_errors]
    assert full == [T0 + timedelta(days=d) for d in (1, 2, 3)] + [T0 + timedelta(days=3, hours=6)]
    assert all(m.selection == {} for m in made if not m.running_errors)
    assert [m.learned for m in made] == [24 * k for k in range(1, len(made) + 1)]  # as of each forecast
    assert made[-1].running_errors["1h"]["ensemble"]["n"] > 0


def test_the_read_model_keeps_the_latest_running_errors(rig: Rig) -> None:
    metadata.create_all(rig.read_models.write_engine)
    rig.post(T0, load(96 * 3 + 40))
    rig.feed()
    _project(rig, 0)
    first = len(rig.produced())
    rig.post(T0 + timedelta(days=3, hours=10), load(96, T0 + timedelta(days=3, hours=10)))
    rig.feed()
    _project(rig, first)
    with rig.read_models.read_engine.connect() as conn:
        row = forecast_model(conn, rig.sensor_id)
    made = [e.decode() for e in rig.produced() if e.type == "ForecastMade"]
    assert row["forecasts"] == len(made) and row["learned"] == made[-1].learned == 17 * 24
    assert row["belief_time"] == made[-1].belief_time.isoformat()
    assert row["running_errors"] == finite_or_none(rig.processor.model_state(rig.sensor_id).running_errors())


class CountingStore(MemoryEventStore):
    """The in-memory store, remembering how many readings the forecaster had learned at each append."""

    def __init__(self) -> None:
        super().__init__()
        self.learned_at_append: list[int] = []
        self.processor = None

    def append(self, stream_id, events, expected_revision=ANY):
        if self.processor is not None and events and events[0].metadata.actor == "forecaster":
            self.learned_at_append.append(self.processor.stats.learned)
        return super().append(stream_id, events, expected_revision)


def test_a_long_catch_up_appends_its_forecasts_as_it_goes(tmp_path: Path) -> None:
    rig = Rig(tmp_path / "a", ON)
    try:
        store = CountingStore()
        for event in rig.store.read_all(0, 1_000_000):  # the registrations, into the counting store
            store.append(event.stream_id, [NewEvent(event_id=event.event_id, type=event.type,
                         schema_version=event.schema_version, data=event.data, metadata=event.metadata)])  # fmt: skip
        rig.store, rig.ctx = store, CommandContext(store)
        rig.processor = ForecastProcessor(store, rig.read_models.write_engine, checkpoints=rig.checkpoints, flush_at=20)
        store.processor = rig.processor
        rig.post(T0, load(96 * 20))  # one event: 20 days, 80 forecasts, 160 events
        rig.feed()
        learned = store.learned_at_append
        assert len(rig.produced()) == 160 and rig.processor.stats.learned == 96 * 20
        # appended in rounds of 20 events while learning, long before the event was learned
        assert len(learned) >= 8 and learned[0] < 96 * 3 and learned == sorted(learned)
    finally:
        rig.close()
