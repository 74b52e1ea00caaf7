"""The tariffs read model keeps every version of a tariff (issue 14): the scheduler reads the
tariffs as known at its trigger's belief time (projections.myems_tariffs.tariffs_as_of), on a real
SQLite and PostgreSQL read model, idempotent on replay."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from pg import SKIP_REASON, postgres_base_url, temporary_postgres_url
from tariff_support import tou_tariff

from domain import tariffs as tf
from domain.events import EventMetadata, RecordedEvent
from infra.eventstore.postgres import postgres_engine
from projections import myems_tariffs as q
from projections.registry import metadata as registry_metadata


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request, tmp_path) -> Iterator[sa.Engine]:
    """The tariffs read model's tables on SQLite and on a throwaway PostgreSQL schema."""
    if request.param == "sqlite":
        url_context = None
        engine = sa.create_engine(f"sqlite:///{tmp_path / 'rm.db'}")
    else:
        if postgres_base_url() is None:
            pytest.skip(SKIP_REASON)
        url_context = temporary_postgres_url()
        engine = postgres_engine(url_context.__enter__(), pool_size=2)
    q.metadata.create_all(engine)
    registry_metadata.create_all(engine)
    try:
        yield engine
    finally:
        engine.dispose()
        if url_context is not None:
            url_context.__exit__(None, None, None)


def test_tariffs_are_read_as_known_at_a_time(engine):
    """projections.myems_tariffs keeps every version: as_of before a redefinition gives the first."""
    t1, t2 = datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC)
    flat = tou_tariff(
        timeofuse=[
            {"start_time_of_day": "00:00:00", "end_time_of_day": "23:59:59", "peak_type": "midpeak", "price": 0.5}
        ]
    )
    events = [
        tf.MyEmsTariffDefined(
            tariff_id=7, account_id=1, uuid="00000000-0000-0000-0000-000000000007", definition=tou_tariff()
        ),
        tf.MyEmsTariffRedefined(tariff_id=7, definition=flat),
        tf.MyEmsTariffDeleted(tariff_id=7),
    ]
    recorded = [
        RecordedEvent(
            event_id=f"00000000-0000-0000-0000-00000000000{i}",
            stream_id=tf.tariff_stream(7),
            stream_revision=i,
            global_position=i + 1,
            type=type(e).__name__,
            schema_version=1,
            data=e.model_dump(mode="json"),
            metadata=EventMetadata(recorded_at=when),
        )
        for i, (e, when) in enumerate(zip(events, (t1, t2, t2 + timedelta(days=1)), strict=True))
    ]
    with engine.begin() as conn:
        q.MyEmsTariffsProjection().apply(conn, recorded)
        q.MyEmsTariffsProjection().apply(conn, recorded[:2])  # replay: idempotent
        assert q.tariffs_as_of(conn, 1, t1 - timedelta(seconds=1)) == {}
        assert q.tariffs_as_of(conn, 1, t1 + timedelta(hours=1)) == {7: tou_tariff()}
        assert q.tariffs_as_of(conn, 1, t2) == {7: flat}
        assert q.tariffs_as_of(conn, 1, t2 + timedelta(days=2)) == {}  # deleted by then
        assert q.tariffs_as_of(conn, 2, t2) == {}  # another account's


def test_tariffs_projected_before_versions_were_kept_count_as_they_are_now(engine):
    """A read model filled before ``myems_tariff_versions`` existed (the version rows missing) still
    prices schedules: such a tariff counts as it is now."""
    event = tf.MyEmsTariffDefined(
        tariff_id=3, account_id=1, uuid="00000000-0000-0000-0000-000000000003", definition=tou_tariff()
    )
    recorded = RecordedEvent(
        event_id="00000000-0000-0000-0000-000000000009",
        stream_id=tf.tariff_stream(3),
        stream_revision=0,
        global_position=1,
        type="MyEmsTariffDefined",
        schema_version=1,
        data=event.model_dump(mode="json"),
        metadata=EventMetadata(recorded_at=datetime(2024, 3, 1, tzinfo=UTC)),
    )
    with engine.begin() as conn:
        q.MyEmsTariffsProjection().apply(conn, [recorded])
        conn.execute(q.myems_tariff_versions.delete())  # as an older read model: no version rows
        assert q.tariffs_as_of(conn, 1, datetime(2020, 1, 1, tzinfo=UTC)) == {3: tou_tariff()}
