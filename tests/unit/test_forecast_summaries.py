"""The live forecaster's ``ForecastMade`` summaries: compact, with the running errors once a day
of data and with each readings event's latest forecast; the read model keeps the latest errors."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from test_forecast_processor import ON, T0, Rig, load

from domain.forecast_events import finite_or_none
from projections.forecast_models import ForecastModelsProjection, forecast_model, metadata


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
