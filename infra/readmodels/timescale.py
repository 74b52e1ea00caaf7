"""Storage for the ``readings`` read model on PostgreSQL: TimescaleDB when present, else BRIN.

:func:`prepare_readings_storage` is idempotent; call it once at start-up, after (or instead
of) creating the projection's tables. It returns what it did (:class:`ReadingsStorage`).

**With the timescaledb extension** (``CREATE EXTENSION timescaledb`` done by an admin, as in
the ``timescale/timescaledb`` image):

* ``readings`` becomes a hypertable on its integer ``event_start`` (seconds since the Unix
  epoch, UTC), chunks of 7 days (604 800 s), ``integer_now`` = ``flexledger_epoch_now()``
  (the current epoch second), which the policies below need. Existing rows are migrated.
* Continuous aggregates ``readings_15min``, ``readings_hourly`` and ``readings_daily``
  (``time_bucket`` of 900 / 3 600 / 86 400 s on ``event_start``; daily buckets are UTC days):
  per ``sensor_id``, ``source_id`` and ``bucket_start`` (epoch seconds), ``mean_value`` (avg),
  ``sum_value`` (sum), ``beliefs`` (count) and ``last_belief_time`` (max, µs since the epoch),
  values in the sensor's unit (power: consumption positive, production negative).
  **They hold every belief**, not only the latest per event: a continuous aggregate cannot
  pick the latest belief per event. They suit dashboards and overviews of measurement
  sources (one belief per event); the API's exact queries (latest belief as of a time,
  resampling of power vs energy) keep using the base table. Real-time aggregation is on
  (``materialized_only = false``): rows not yet materialised are aggregated at query time.
  Refresh policy: every ``refresh_interval_s``, buckets from ``refresh_lookback_s`` ago to
  the end (forecasts lie in the future); corrections older than the look-back need a manual
  ``CALL refresh_continuous_aggregate('readings_hourly', NULL, NULL)``.
* Compression (segment by sensor and source) and retention (drop chunks older than …) of
  ``readings``: only when ``compress_after_s`` / ``retention_s`` are given (off by default).
  Retention deletes read-model rows only; the events stay, and a rebuild re-creates rows
  until the policy drops them again.

**Without the extension**: the BRIN index on ``event_start`` declared in
:mod:`projections.readings` (created with the table), and nothing else.

Before dropping ``readings`` (a projection rebuild), drop the aggregates with
:func:`drop_readings_aggregates`: PostgreSQL refuses to drop a table views depend on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa

from infra.readmodels.database import ReadModelDb
from projections.readings import metadata as readings_metadata

DAY_S = 86_400
BRIN_INDEX = "ix_readings_event_start_brin"
NOW_FUNCTION = "flexledger_epoch_now"


@dataclass(frozen=True)
class Aggregate:
    """A continuous aggregate of ``readings``: view name and bucket width in seconds."""

    view: str
    bucket_s: int


AGGREGATES = (Aggregate("readings_15min", 900), Aggregate("readings_hourly", 3_600), Aggregate("readings_daily", DAY_S))


@dataclass(frozen=True)
class TimescaleOptions:
    """Settings of the TimescaleDB path (all durations in seconds)."""

    chunk_interval_s: int = 7 * DAY_S
    aggregates: Sequence[Aggregate] = AGGREGATES
    refresh_lookback_s: int = 30 * DAY_S
    refresh_interval_s: int = 15 * 60
    compress_after_s: int | None = None
    retention_s: int | None = None


@dataclass
class ReadingsStorage:
    """What :func:`prepare_readings_storage` did: ``mode`` and the statements it ran."""

    mode: str  # "timescaledb" | "brin" | "none"
    actions: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"readings storage: {self.mode}" + "".join(f"\n  - {a}" for a in self.actions)


def _positive(name: str, value: int | None) -> None:
    if value is not None and (not isinstance(value, int) or value <= 0):
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")


def hypertable_statements(options: TimescaleOptions) -> list[str]:
    """Hypertable on the integer ``event_start`` with its ``integer_now`` function."""
    _positive("chunk_interval_s", options.chunk_interval_s)
    return [
        f"CREATE OR REPLACE FUNCTION {NOW_FUNCTION}() RETURNS BIGINT LANGUAGE SQL STABLE AS "
        "$$ SELECT extract(epoch FROM now())::BIGINT $$",
        "SELECT create_hypertable('readings', by_range('event_start', "
        f"{options.chunk_interval_s}::BIGINT), if_not_exists => TRUE, "
        "create_default_indexes => FALSE, migrate_data => TRUE)",
        f"SELECT set_integer_now_func('readings', '{NOW_FUNCTION}', replace_if_exists => TRUE)",
    ]


def aggregate_statements(options: TimescaleOptions) -> list[str]:
    """One continuous aggregate and its refresh policy per bucket width."""
    _positive("refresh_lookback_s", options.refresh_lookback_s)
    _positive("refresh_interval_s", options.refresh_interval_s)
    statements = []
    for agg in options.aggregates:
        _positive("bucket_s", agg.bucket_s)
        statements += [
            f"CREATE MATERIALIZED VIEW IF NOT EXISTS {agg.view} "
            "WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS "
            f"SELECT sensor_id, source_id, time_bucket({agg.bucket_s}::BIGINT, event_start) AS bucket_start, "
            "avg(value) AS mean_value, sum(value) AS sum_value, count(*) AS beliefs, "
            "max(belief_time) AS last_belief_time "
            "FROM readings GROUP BY sensor_id, source_id, bucket_start WITH NO DATA",
            f"SELECT add_continuous_aggregate_policy('{agg.view}', "
            f"start_offset => {options.refresh_lookback_s}::BIGINT, end_offset => NULL, "
            f"schedule_interval => INTERVAL '{options.refresh_interval_s} seconds', if_not_exists => TRUE)",
        ]
    return statements


def policy_statements(options: TimescaleOptions, compression_enabled: bool = False) -> list[str]:
    """Compression and retention of ``readings``, each only when configured."""
    _positive("compress_after_s", options.compress_after_s)
    _positive("retention_s", options.retention_s)
    statements = []
    if options.compress_after_s is not None:
        if not compression_enabled:  # changing settings of compressed chunks is refused
            statements.append(
                "ALTER TABLE readings SET (timescaledb.compress, "
                "timescaledb.compress_segmentby = 'sensor_id, source_id', "
                "timescaledb.compress_orderby = 'event_start, belief_time')"
            )
        statements.append(
            f"SELECT add_compression_policy('readings', compress_after => {options.compress_after_s}::BIGINT, "
            "if_not_exists => TRUE)"
        )
    if options.retention_s is not None:
        statements.append(
            f"SELECT add_retention_policy('readings', drop_after => {options.retention_s}::BIGINT, "
            "if_not_exists => TRUE)"
        )
    return statements


def timescale_statements(options: TimescaleOptions, compression_enabled: bool = False) -> list[str]:
    """Every statement of the TimescaleDB path, in order."""
    return (
        hypertable_statements(options) + aggregate_statements(options) + policy_statements(options, compression_enabled)
    )


def _compression_enabled(conn: sa.Connection) -> bool:
    query = sa.text(
        "SELECT compression_enabled FROM timescaledb_information.hypertables "
        "WHERE hypertable_schema = current_schema() AND hypertable_name = 'readings'"
    )
    return bool(conn.execute(query).scalar())


def _has_index(conn: sa.Connection, name: str) -> bool:
    query = sa.text("SELECT 1 FROM pg_indexes WHERE schemaname = current_schema() AND indexname = :name")
    return conn.execute(query, {"name": name}).first() is not None


def _timescaledb(conn: sa.Connection, extension: str = "timescaledb") -> tuple[bool, str | None]:
    """Whether the extension is installed here, creating it when the server offers it.

    A server that offers it but cannot create it (the common case: timescaledb is not in
    ``shared_preload_libraries``, "must be preloaded") leaves the connection usable: the failed
    statement is rolled back, and the caller falls back to the BRIN path with the reason as a note.
    """
    installed = sa.text("SELECT 1 FROM pg_extension WHERE extname = :name")
    if conn.execute(installed, {"name": extension}).first():
        return True, None
    available = sa.text("SELECT 1 FROM pg_available_extensions WHERE name = :name")
    if not conn.execute(available, {"name": extension}).first():
        return False, None
    try:
        conn.execute(sa.text(f'CREATE EXTENSION IF NOT EXISTS "{extension}"'))
    except sa.exc.DBAPIError as error:  # e.g. not in shared_preload_libraries, or no privilege
        conn.rollback()
        return False, f"CREATE EXTENSION {extension} failed ({_first_line(error)}): BRIN fallback"
    return True, f"CREATE EXTENSION IF NOT EXISTS {extension}"


def prepare_readings_storage(
    read_models: ReadModelDb, options: TimescaleOptions | None = None, extension: str = "timescaledb"
) -> ReadingsStorage:
    """Make ``readings`` fast for time-range queries (see the module docstring).

    Called by the composition root's storage step (every start) and the CLI's rebuild;
    idempotent. ``extension``: the extension to use (tests name another one to exercise the
    fallback when creating it fails).
    """
    if not read_models.is_postgres:
        with read_models.write_engine.begin() as conn:  # an index of former versions, PostgreSQL-only now
            conn.execute(sa.text(f"DROP INDEX IF EXISTS {BRIN_INDEX}"))
        return ReadingsStorage("none", [f"{read_models.dialect}: nothing to do"])
    engine = read_models.write_engine
    readings_metadata.create_all(engine)  # table and BRIN index, if no projection created them yet
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        present, note = _timescaledb(conn, extension)
        notes = [note] if note else []
        if present:
            try:
                return ReadingsStorage("timescaledb", notes + _apply_timescale(conn, options))
            except sa.exc.DBAPIError as error:  # installed but unusable, e.g. not preloaded
                conn.rollback()
                notes.append(f"timescaledb set-up failed ({_first_line(error)}): BRIN fallback")
        if not _has_index(conn, BRIN_INDEX):
            raise RuntimeError(f"BRIN index {BRIN_INDEX} missing on readings")
        return ReadingsStorage("brin", [*notes, f"timescaledb not used: BRIN index {BRIN_INDEX} on event_start"])


def _apply_timescale(conn: sa.Connection, options: TimescaleOptions | None) -> list[str]:
    statements = timescale_statements(options or TimescaleOptions(), _compression_enabled(conn))
    for statement in statements:
        conn.execute(sa.text(statement))
    return statements


def _first_line(error: sa.exc.DBAPIError) -> str:
    return str(error.orig).strip().splitlines()[0]


def drop_readings_aggregates(read_models: ReadModelDb, aggregates: Sequence[Aggregate] = AGGREGATES) -> list[str]:
    """Drop the continuous aggregates (before dropping ``readings``); returns the statements."""
    if not read_models.is_postgres:
        return []
    statements = [f"DROP MATERIALIZED VIEW IF EXISTS {agg.view}" for agg in aggregates]
    with read_models.write_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for statement in statements:
            conn.execute(sa.text(statement))
    return statements


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m infra.readmodels.timescale [--compress-after-days N] [--retention-days N]``:
    prepare the read-model database named by ``FLEXLEDGER_READ_MODELS_URL`` (else
    ``FLEXLEDGER_POSTGRES_URL``) and print what was done (the compose file's set-up step)."""
    import argparse

    from infra.readmodels.database import postgres_readmodels
    from infra.settings import Settings

    parser = argparse.ArgumentParser(description="Prepare TimescaleDB (or BRIN) storage for readings")
    parser.add_argument("--compress-after-days", type=int, default=None, help="compress chunks older than this")
    parser.add_argument("--retention-days", type=int, default=None, help="drop reading chunks older than this")
    args = parser.parse_args(argv)
    settings = Settings()
    options = TimescaleOptions(
        compress_after_s=args.compress_after_days * DAY_S if args.compress_after_days else None,
        retention_s=args.retention_days * DAY_S if args.retention_days else None,
    )
    db = postgres_readmodels(settings.read_models_url or settings.postgres_url)
    try:
        print(prepare_readings_storage(db, options))
    finally:
        db.close()


if __name__ == "__main__":
    main()


__all__ = [
    "AGGREGATES",
    "Aggregate",
    "ReadingsStorage",
    "TimescaleOptions",
    "drop_readings_aggregates",
    "prepare_readings_storage",
    "timescale_statements",
]
