"""Readings storage on real PostgreSQL without the timescaledb extension (it cannot be installed
here): the BRIN path end to end, and the TimescaleDB statements checked by PostgreSQL's own
parser (inside a PL/pgSQL body, which is parsed but never run). Each test gets a throwaway
database ``flexledger_test_<random>``.
"""

from __future__ import annotations

import os
import uuid

import pytest
import sqlalchemy as sa

from infra.eventstore.postgres import postgres_engine
from infra.readmodels.database import postgres_readmodels
from infra.readmodels.timescale import (
    BRIN_INDEX,
    TimescaleOptions,
    drop_readings_aggregates,
    prepare_readings_storage,
    timescale_statements,
)
from projections.readings import readings

pytestmark = pytest.mark.postgres


@pytest.fixture
def database_url():
    base = os.environ.get("FLEXLEDGER_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("FLEXLEDGER_TEST_POSTGRES_URL is not set (e.g. postgresql://postgres@127.0.0.1:5432/test)")
    name = f"flexledger_test_{uuid.uuid4().hex[:12]}"
    admin = postgres_engine(base).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(base).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def read_models(database_url):
    db = postgres_readmodels(database_url)
    yield db
    db.close()


def _index_method(conn: sa.Connection, name: str) -> str | None:
    query = sa.text(
        "SELECT am.amname FROM pg_class c JOIN pg_am am ON am.oid = c.relam WHERE c.relname = :name AND c.relkind = 'i'"
    )
    return conn.execute(query, {"name": name}).scalar()


def test_without_timescaledb_only_the_brin_index(read_models):
    assert not read_models.has_timescaledb()
    report = prepare_readings_storage(read_models)
    assert report.mode == "brin" and BRIN_INDEX in str(report)
    assert prepare_readings_storage(read_models).mode == "brin"  # idempotent
    with read_models.read_engine.connect() as conn:
        assert _index_method(conn, BRIN_INDEX) == "brin"
        views = conn.execute(sa.text("SELECT count(*) FROM pg_matviews")).scalar()
        functions = conn.execute(
            sa.text("SELECT count(*) FROM pg_proc WHERE proname = 'flexledger_epoch_now'")
        ).scalar()
    assert (views, functions) == (0, 0)  # nothing else


def test_prepared_table_takes_readings_and_drops_cleanly(read_models):
    prepare_readings_storage(read_models)
    row = {
        "sensor_id": 1,
        "event_start": 1_735_689_600,
        "source_id": 1,
        "belief_time": 1,
        "value": 2.5,
        "resolution_s": 900,
    }
    with read_models.write_engine.begin() as conn:
        conn.execute(readings.insert(), [row])
    with read_models.read_engine.connect() as conn:
        assert conn.execute(sa.select(readings.c.value)).scalar() == 2.5
    assert len(drop_readings_aggregates(read_models)) == 3  # nothing to drop here, and no error
    readings.drop(read_models.write_engine)


def test_timescaledb_statements_parse_on_postgresql(read_models):
    prepare_readings_storage(read_models)
    options = TimescaleOptions(compress_after_s=14 * 86_400, retention_s=365 * 86_400)
    with read_models.write_engine.connect() as conn:
        for statement in timescale_statements(options):
            body = f"BEGIN {statement}; END"
            create = f"CREATE FUNCTION pg_temp.parse_check() RETURNS void LANGUAGE plpgsql AS $chk${body}$chk$"
            conn.execute(sa.text(create))  # raises on a syntax error
            conn.execute(sa.text("DROP FUNCTION pg_temp.parse_check()"))
        conn.rollback()


def test_an_extension_that_cannot_be_created_falls_back_to_brin_with_a_note(read_models):
    """As timescaledb installed on the server but not preloaded ("must be preloaded"): CREATE
    EXTENSION fails. Stand-in: ``earthdistance``, offered by PostgreSQL's contrib but refused
    without its dependency ``cube``. The step rolls back and takes the BRIN path."""
    with read_models.read_engine.connect() as conn:
        offered = conn.execute(sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'earthdistance'")).first()
    if not offered:
        pytest.skip("PostgreSQL contrib (earthdistance) is not installed on this server")
    storage = prepare_readings_storage(read_models, extension="earthdistance")
    assert storage.mode == "brin"
    assert any("CREATE EXTENSION earthdistance failed" in a and "BRIN fallback" in a for a in storage.actions)
    with read_models.read_engine.connect() as conn:
        assert _index_method(conn, BRIN_INDEX) == "brin"
        assert not conn.execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'earthdistance'")).first()


def test_the_composition_root_prepares_the_readings_storage(database_url, tmp_path):
    from infra.bootstrap import build_platform
    from infra.settings import Settings

    settings = Settings(home=tmp_path, read_models="postgres", read_models_url=database_url, bcrypt_rounds=4)
    platform = build_platform(settings)
    try:
        assert platform.readings_storage is not None and platform.readings_storage.mode == "brin"
    finally:
        platform.close()


def test_an_installed_extension_whose_set_up_fails_falls_back_to_brin_with_a_note(read_models):
    """As timescaledb present in the database but unusable (not preloaded: every timescaledb
    call fails). Stand-in: ``cube`` installed and passed as the extension, so the TimescaleDB
    statements fail (their functions do not exist); the step rolls back and takes the BRIN path."""
    with read_models.write_engine.begin() as conn:
        conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS cube"))
    storage = prepare_readings_storage(read_models, extension="cube")
    assert storage.mode == "brin"
    assert any("timescaledb set-up failed" in a and "BRIN fallback" in a for a in storage.actions)
    with read_models.read_engine.connect() as conn:
        assert _index_method(conn, BRIN_INDEX) == "brin"
