"""The forecaster across restarts and rebuilds, with the whole platform (runner, log, API).

* A restart (close the platform, build a new one on the same home) resumes from the saved model
  state: nothing is relearned, the count of learned readings continues.
* A rebuild (forget the forecaster's state and checkpoints, replay from position 0) makes the
  same forecasts and appends nothing (the store's head does not move).
* The inputs copied into an empty store give forecast events identical in id and content.
* The same on PostgreSQL (event store and read models), when ``FLEXLEDGER_TEST_POSTGRES_URL`` is set.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pg import postgres_base_url, temporary_postgres_url
from test_forecasting_support import START, ForecastHarness, harness_settings

from domain.events import NewEvent
from domain.forecast_events import finite_or_none
from infra.bootstrap import build_platform
from projections.base import reset
from projections.forecast_models import ForecastModelsProjection
from projections.readings_query import BeliefFilter, beliefs_with_sources
from streams.forecaster import reset_forecaster

SENSOR = "/api/v3_0/sensors/1"


def forecaster_events(harness: ForecastHarness) -> dict:
    """{event id: data} of everything the forecaster appended."""
    out, position = {}, 0
    while batch := harness.platform.store.read_all(position, 5000):
        out.update({e.event_id: e.data for e in batch if e.metadata.actor == "forecaster"})
        position = batch[-1].global_position
    return out


def all_forecast_beliefs(harness: ForecastHarness) -> list[tuple]:
    with harness.platform.read_models.read_engine.connect() as conn:
        return beliefs_with_sources(conn, 1, 0, 2**40, BeliefFilter(source_types=["forecaster"]))


def model_summary(harness: ForecastHarness) -> tuple:
    model = harness.forecaster.model_state(1)
    return model.learned, model.selection(), finite_or_none(model.running_errors())


def feed(home: Path, **settings) -> tuple[dict, tuple, list]:
    """Two weeks of load and one forecast job; returns (forecasting status, model summary, beliefs)."""
    with ForecastHarness(home, **settings) as harness:
        harness.post_days(START, 14)
        harness.post(f"{SENSOR}/forecasts/trigger", {"start": (START + timedelta(days=14)).isoformat()})
        harness.settle()
        status = harness.get(f"{SENSOR}/forecasting")
        assert status["learned"] == 14 * 96 and harness.forecaster.stats.bootstraps == 1
        return status, model_summary(harness), all_forecast_beliefs(harness)


def restart(home: Path, **settings) -> None:
    with ForecastHarness(home, seed_world=False, **settings) as harness:
        stats = harness.forecaster.stats
        assert stats.learned == 0 and stats.bootstraps == 0  # resumed: nothing relearned on start-up
        harness.post_days(START + timedelta(days=14), 1)
        harness.settle()
        assert stats.learned == 96 and stats.bootstraps == 0
        assert harness.forecaster.model_state(1).learned == 15 * 96  # the count continues
        status = harness.get(f"{SENSOR}/forecasting")
        assert (status["learned"], status["forecasts"]) == (15 * 96, 15 * 24)


def rebuild(home: Path, before: tuple, beliefs: list, **settings) -> None:
    platform = build_platform(harness_settings(home, **settings))
    try:
        head = platform.store.head_position()
        reset_forecaster(platform.read_models.write_engine, platform.checkpoints)
        reset(platform.read_models.write_engine, ForecastModelsProjection(), platform.checkpoints)
    finally:
        platform.close()
    with ForecastHarness(home, seed_world=False, **settings) as harness:
        harness.settle()
        stats = harness.forecaster.stats
        assert harness.head() == head  # the replay appended nothing new
        assert stats.emitted > 0 and stats.appended == 0 and stats.jobs == 0  # the ended job is not redone
        assert model_summary(harness) == before
        assert all_forecast_beliefs(harness) == beliefs
        assert harness.get(f"{SENSOR}/forecasting")["forecasts"] == 14 * 24


def test_restart_resumes_without_relearning(tmp_path: Path) -> None:
    feed(tmp_path)
    restart(tmp_path)


def test_rebuild_reproduces_the_same_forecasts(tmp_path: Path) -> None:
    status, summary, beliefs = feed(tmp_path)
    assert summary[0] == 14 * 96 and len(beliefs) > 14 * 24
    rebuild(tmp_path, summary, beliefs)


def test_the_same_inputs_in_an_empty_store_give_identical_forecast_events(tmp_path: Path) -> None:
    feed(tmp_path / "first")
    with ForecastHarness(tmp_path / "first", seed_world=False) as first, \
            ForecastHarness(tmp_path / "second", seed_world=False) as second:  # fmt: skip
        position = 0
        while batch := first.platform.store.read_all(position, 5000):
            for event in batch:
                if event.metadata.actor != "forecaster":
                    copy = NewEvent(event_id=event.event_id, type=event.type, schema_version=event.schema_version,
                                    data=event.data, metadata=event.metadata)  # fmt: skip
                    second.platform.store.append(event.stream_id, [copy])
            position = batch[-1].global_position
        second.settle()
        ours, theirs = forecaster_events(first), forecaster_events(second)
        assert len(ours) == 2 * 14 * 24 + 2 and ours == theirs  # live forecasts + summaries; the job: beliefs, end


@pytest.mark.postgres
def test_restart_and_rebuild_on_postgres(tmp_path: Path) -> None:
    if postgres_base_url() is None:
        pytest.skip("FLEXLEDGER_TEST_POSTGRES_URL is not set")
    with temporary_postgres_url() as url:
        settings = dict(event_store="postgres", read_models="postgres", postgres_url=url)
        status, summary, beliefs = feed(tmp_path, **settings)
        assert status["selection"]
        rebuild(tmp_path, summary, beliefs, **settings)
        restart(tmp_path, **settings)
