"""The SQL of the TimescaleDB path (the extension is not installable here, so its statements are
checked as text; ``tests/integration/test_timescale.py`` also parses them on PostgreSQL)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from infra.readmodels.database import sqlite_readmodels
from infra.readmodels.timescale import (
    AGGREGATES,
    TimescaleOptions,
    drop_readings_aggregates,
    hypertable_statements,
    prepare_readings_storage,
    timescale_statements,
)


def test_hypertable_on_integer_event_start_with_7_day_chunks():
    now_func, hypertable, set_now = hypertable_statements(TimescaleOptions())
    assert timescale_statements(TimescaleOptions())[:3] == [now_func, hypertable, set_now]
    assert "flexledger_epoch_now() RETURNS BIGINT" in now_func and "extract(epoch FROM now())::BIGINT" in now_func
    assert "create_hypertable('readings', by_range('event_start', 604800::BIGINT)" in hypertable
    assert "migrate_data => TRUE" in hypertable and "if_not_exists => TRUE" in hypertable
    assert "set_integer_now_func('readings', 'flexledger_epoch_now'" in set_now


def test_continuous_aggregates_at_15_min_hour_and_day():
    statements = timescale_statements(TimescaleOptions())
    views = [s for s in statements if s.startswith("CREATE MATERIALIZED VIEW")]
    assert [a.bucket_s for a in AGGREGATES] == [900, 3600, 86400]
    for agg, view in zip(AGGREGATES, views, strict=True):
        assert f"IF NOT EXISTS {agg.view} " in view
        assert "timescaledb.continuous" in view and "timescaledb.materialized_only = false" in view
        assert f"time_bucket({agg.bucket_s}::BIGINT, event_start) AS bucket_start" in view
        assert "avg(value) AS mean_value" in view and "sum(value) AS sum_value" in view
        assert "GROUP BY sensor_id, source_id, bucket_start" in view and view.endswith("WITH NO DATA")
    policies = [s for s in statements if "add_continuous_aggregate_policy" in s]
    assert len(policies) == 3
    assert all("start_offset => 2592000::BIGINT, end_offset => NULL" in p for p in policies)


def test_compression_and_retention_are_off_unless_set():
    default = " ".join(timescale_statements(TimescaleOptions()))
    assert "compress" not in default and "retention" not in default
    options = TimescaleOptions(compress_after_s=14 * 86_400, retention_s=365 * 86_400)
    statements = timescale_statements(options)
    assert any("timescaledb.compress_segmentby = 'sensor_id, source_id'" in s for s in statements)
    assert any("add_compression_policy('readings', compress_after => 1209600::BIGINT" in s for s in statements)
    assert any("add_retention_policy('readings', drop_after => 31536000::BIGINT" in s for s in statements)
    again = timescale_statements(options, compression_enabled=True)
    assert not any(s.startswith("ALTER TABLE") for s in again)  # settings of compressed chunks stay


@pytest.mark.parametrize("bad", [0, -5, 1.5])
def test_durations_must_be_positive_seconds(bad):
    with pytest.raises(ValueError):
        timescale_statements(TimescaleOptions(retention_s=bad))


def test_sqlite_read_models_need_nothing(tmp_path):
    db = sqlite_readmodels(tmp_path / "rm.db")
    try:
        report = prepare_readings_storage(db)
        assert report.mode == "none" and "sqlite" in str(report)
        assert drop_readings_aggregates(db) == []
        assert not sa.inspect(db.write_engine).has_table("readings")
    finally:
        db.close()
