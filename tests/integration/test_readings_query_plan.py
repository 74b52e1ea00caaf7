"""The latest-belief query stays an index probe per row in SQLite (issue #18: reads at scale).

Not timed: SQLite's own query plan is checked. Each candidate belief must be checked against
newer beliefs of the *same event* (primary key ``sensor_id=? AND event_start=?``); a probe of
the whole range instead makes a year's query quadratic (seconds at 10 million readings).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from projections.readings import metadata
from projections.readings_query import BeliefFilter, latest_beliefs_query

FILTERS = {
    "plain": BeliefFilter(),
    "prior": BeliefFilter(prior=datetime(2030, 1, 1, tzinfo=UTC)),
    "sources and horizon": BeliefFilter(sources=["meter"], source_types=["user"], horizon_s=3600),
}


@pytest.mark.parametrize("name", list(FILTERS))
def test_newer_beliefs_are_probed_per_event_on_the_primary_key(tmp_path, name: str) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'readmodels.db'}")
    metadata.create_all(engine)
    query = latest_beliefs_query(7, 1_704_067_200, 1_735_603_200, FILTERS[name])
    sql = str(query.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
    with engine.connect() as conn:
        plan = [row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql)]
    engine.dispose()
    probes = [step for step in plan if step.startswith("SEARCH n ")]
    assert probes and all("event_start=?" in step for step in probes), plan
    assert any(step.startswith("SEARCH r ") and "event_start>?" in step for step in plan), plan
    assert not any("SCAN" in step and "readings" in step for step in plan), plan
