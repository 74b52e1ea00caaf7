"""Read benchmark: latency of the queries behind ``GET /api/v3_0/sensors/<id>/data``.

Fills a fresh store with ``--sensors`` sensors x ``--days`` days of 15-minute readings (as
10,000-value events, the bulk-import shape), then a correction of the first ``--corrected-days``
days of every sensor (a second belief per event, formed later), projects them into the
read models (``projections.replay.rebuild``) and times, on random sensors and days, what the
endpoint runs (:func:`api.series.read_series`):

* ``day``: one day at the sensor's resolution (96 values, latest belief per event);
* ``day_prior``: the same day "as believed at T" (prior filter, T between the two beliefs);
* ``year_daily``: a year resampled to daily means (365 values);
* ``year_daily_prior``: the same with the prior filter.

Each query runs with the current latest-belief query and with the one before issue #18
(``row_number()`` window), alternating within each round so load on a shared machine hits
them alike; prints wall median and p99 and CPU-time median (ms) per query and variant, the
window/current ratio and the prior/plain ratio. The figures exclude HTTP (add the
``bench/ingest.py`` sequential round-trip, ~1-2 ms, for the endpoint).

Quick (default, 10 sensors x 1 year = 0.35 M readings, SQLite)::

    .venv/bin/python bench/reads.py

Full size of issue #18 (100 sensors, 10 M readings; SQLite and PostgreSQL)::

    .venv/bin/python bench/reads.py --sensors 100 --days 1042
    .venv/bin/python bench/reads.py --sensors 100 --days 1042 --postgres postgresql://postgres@127.0.0.1:5432/postgres

With ``--postgres URL`` a scratch database ``flexledger_bench_reads_<pid>`` is created next to URL's
database and dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

from api.series import read_series  # noqa: E402
from bench.common import median, percentile, temp_home  # noqa: E402
from commands import registry as cmd  # noqa: E402
from commands.readings import MAX_VALUES_PER_EVENT, RecordSensorData, record_sensor_data  # noqa: E402
from infra.bootstrap import build_platform  # noqa: E402
from infra.settings import Settings  # noqa: E402
from projections import readings_query  # noqa: E402
from projections.readings import ReadingsProjection, readings  # noqa: E402
from projections.readings_query import BeliefFilter  # noqa: E402
from projections.registry import RegistryProjection  # noqa: E402
from projections.registry_query import sensor_by_id  # noqa: E402
from projections.replay import rebuild  # noqa: E402

START = datetime(2024, 1, 1, tzinfo=UTC)
FIRST_BELIEF = datetime(2030, 1, 1, tzinfo=UTC)
CORRECTION_BELIEF = datetime(2030, 2, 1, tzinfo=UTC)
AS_OF = datetime(2030, 1, 15, tzinfo=UTC)  # between the two beliefs
SCRATCH_DB = f"flexledger_bench_reads_{os.getpid()}"


def _record(ctx, sensor_id: int, state, first_slot: int, count: int, belief: datetime, offset: float) -> None:
    for slot in range(first_slot, first_slot + count, MAX_VALUES_PER_EVENT):
        n = min(MAX_VALUES_PER_EVENT, first_slot + count - slot)
        record_sensor_data(
            ctx,
            RecordSensorData(
                sensor_id=sensor_id,
                start=START + timedelta(minutes=15 * slot),
                duration=timedelta(minutes=15 * n),
                values=[float((slot + i) % 311) + offset for i in range(n)],
                unit="kW",
                source="bench",
                prior=belief,
            ),
            state,
        )


def fill(platform, sensors: int, days: int, corrected_days: int) -> tuple[list[int], int]:
    """Sensor ids and the number of readings stored (corrections included)."""
    ctx = platform.commands
    account = cmd.register_account(ctx, cmd.RegisterAccount(name="bench"))
    asset = cmd.register_asset(ctx, cmd.RegisterAsset(account_id=account, name="site", asset_type="building"))
    ids, total = [], 0
    for s in range(sensors):
        sensor_id = cmd.register_sensor(
            ctx, cmd.RegisterSensor(asset_id=asset, name=f"p{s}", unit="kW", event_resolution_s=900)
        )
        state = cmd.load_sensor(ctx, sensor_id)
        _record(ctx, sensor_id, state, 0, days * 96, FIRST_BELIEF, 0.0)
        _record(ctx, sensor_id, state, 0, corrected_days * 96, CORRECTION_BELIEF, 0.5)
        ids.append(sensor_id)
        total += (days + corrected_days) * 96
    return ids, total


def _queries(days: int, corrected_days: int) -> dict:
    """name -> (start offset chooser, duration, resolution, belief filter)."""
    prior = BeliefFilter(prior=AS_OF)
    in_corrected = max(1, corrected_days)
    year = min(days, 365)
    return {
        "day": (lambda rnd: rnd.randrange(days), timedelta(days=1), None, BeliefFilter()),
        "day_prior": (lambda rnd: rnd.randrange(in_corrected), timedelta(days=1), None, prior),
        "day_corrected": (lambda rnd: rnd.randrange(in_corrected), timedelta(days=1), None, BeliefFilter()),
        "year_daily": (
            lambda rnd: rnd.randrange(days - year + 1),
            timedelta(days=year),
            timedelta(days=1),
            BeliefFilter(),
        ),
        "year_daily_prior": (lambda rnd: 0, timedelta(days=year), timedelta(days=1), prior),
    }


def window_latest_query(
    sensor_id: int, start_s: int, end_s: int, beliefs: BeliefFilter, dialect: str = "sqlite"
) -> sa.Select:
    """The latest-belief query before issue #18 (``row_number()`` over the range), for comparison."""
    r = readings.c
    rank = (
        sa.func.row_number()
        .over(partition_by=r.event_start, order_by=(r.belief_time.desc(), r.source_id.desc()))
        .label("rank")
    )
    conditions = [r.sensor_id == sensor_id, r.event_start >= start_s, r.event_start < end_s]
    ranked = (
        sa.select(r.event_start, r.value, r.belief_time, r.source_id, rank)
        .where(*conditions, *readings_query._filter_conditions(r, beliefs))
        .subquery("ranked")
    )
    return sa.select(ranked.c.event_start, ranked.c.value, ranked.c.belief_time, ranked.c.source_id).where(
        ranked.c.rank == 1
    )


VARIANTS = {"current": readings_query.latest_beliefs_query, "window": window_latest_query}


def measure(engine: sa.Engine, sensor_ids: list[int], days: int, corrected_days: int, rounds: int) -> dict:
    """Per (query name, variant): (wall ms, CPU ms) lists; queries and variants alternate in each round."""
    rnd = random.Random(18)
    queries = _queries(days, corrected_days)
    timings: dict[tuple[str, str], tuple[list[float], list[float]]] = {
        (name, variant): ([], []) for name in queries for variant in VARIANTS
    }
    try:
        with engine.connect() as conn:
            sensors = {s: sensor_by_id(conn, s) for s in sensor_ids}
            for _ in range(rounds):
                for name, (day_of, duration, resolution, beliefs) in queries.items():
                    sensor = sensors[rnd.choice(sensor_ids)]
                    start = START + timedelta(days=day_of(rnd))
                    results = [
                        _timed(conn, variant, timings[name, variant], sensor, start, duration, resolution, beliefs)
                        for variant in VARIANTS
                    ]
                    assert results[0] == results[-1] and results[0][0] is not None, f"{name}: variants differ"
                conn.rollback()  # end the read transaction (as a request does)
    finally:
        readings_query.latest_beliefs_query = VARIANTS["current"]
    return timings


def _timed(conn, variant: str, timing: tuple[list, list], sensor: dict, start, duration, resolution, beliefs):
    """The values read with ``variant``; appends the wall and CPU ms to ``timing``."""
    readings_query.latest_beliefs_query = VARIANTS[variant]
    wall, cpu = time.perf_counter(), time.thread_time()
    values, _, _ = read_series(conn, sensor, start, duration, resolution=resolution, beliefs=beliefs)
    timing[1].append((time.thread_time() - cpu) * 1000)
    timing[0].append((time.perf_counter() - wall) * 1000)
    return values


def _check_prior(engine: sa.Engine, sensor_id: int) -> None:
    """The prior filter returns the first beliefs, the plain query the corrections."""
    with engine.connect() as conn:
        sensor = sensor_by_id(conn, sensor_id)
        plain, _, _ = read_series(conn, sensor, START, timedelta(days=1))
        prior, _, _ = read_series(conn, sensor, START, timedelta(days=1), beliefs=BeliefFilter(prior=AS_OF))
    assert plain[0] == prior[0] + 0.5, (plain[0], prior[0])


def _settings(args) -> Settings:
    settings = Settings(home=temp_home(), bcrypt_rounds=4)
    if args.postgres:
        base = sa.make_url(args.postgres).set(drivername="postgresql+psycopg2")
        admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {SCRATCH_DB} WITH (FORCE)"))
            conn.execute(sa.text(f"CREATE DATABASE {SCRATCH_DB}"))
        admin.dispose()
        url = sa.make_url(args.postgres).set(database=SCRATCH_DB).render_as_string(hide_password=False)
        settings = Settings(
            home=settings.home, bcrypt_rounds=4, event_store="postgres", read_models="postgres", postgres_url=url
        )
    return settings


def _drop_scratch(args) -> None:
    if args.postgres:
        url = sa.make_url(args.postgres).set(drivername="postgresql+psycopg2")
        admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {SCRATCH_DB} WITH (FORCE)"))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sensors", type=int, default=10)
    parser.add_argument("--days", type=int, default=365, help="days of 15-minute readings per sensor (>= 1)")
    parser.add_argument("--corrected-days", type=int, default=30, help="days with a second, later belief")
    parser.add_argument("--rounds", type=int, default=300, help="queries of each kind")
    parser.add_argument("--postgres", metavar="URL", help="PostgreSQL server (event store and read models)")
    args = parser.parse_args()
    args.corrected_days = min(args.corrected_days, args.days)
    platform = build_platform(_settings(args))
    try:
        started = time.perf_counter()
        sensor_ids, total = fill(platform, args.sensors, args.days, args.corrected_days)
        appended = time.perf_counter() - started
        engine = platform.read_models.write_engine
        for projection in (RegistryProjection(), ReadingsProjection()):
            rebuild(platform.store, engine, projection, platform.checkpoints)
        projected = time.perf_counter() - started - appended
        _check_prior(platform.read_models.read_engine, sensor_ids[0])
        backend = "postgresql" if args.postgres else "sqlite"
        print(
            f"{backend}: {total:,} readings over {args.sensors} sensors ({args.days} days each, "
            f"{args.corrected_days} corrected); appended in {appended:.0f} s, projected in {projected:.0f} s"
        )
        timings = measure(platform.read_models.read_engine, sensor_ids, args.days, args.corrected_days, args.rounds)
    finally:
        platform.close()
        _drop_scratch(args)
    _report(timings)


def _report(timings: dict) -> None:
    """Medians and p99 (wall ms), CPU medians (ms: less sensitive to a loaded machine) and ratios.

    CPU is this process's: with PostgreSQL the server's work is not in it (compare wall times)."""
    print(f"{'query':<18} {'variant':<8} {'median ms':>10} {'p99 ms':>8} {'CPU median ms':>14}")
    for (name, variant), (wall, cpu) in timings.items():
        print(f"{name:<18} {variant:<8} {median(wall):>10.2f} {percentile(wall, 99):>8.2f} {median(cpu):>14.2f}")
    for name in dict.fromkeys(name for name, _ in timings):
        now, before = timings[name, "current"], timings[name, "window"]
        wall_ratio, cpu_ratio = median(before[0]) / median(now[0]), median(before[1]) / median(now[1])
        print(f"{name}: window / current: wall medians {wall_ratio:.2f}x, CPU medians {cpu_ratio:.2f}x")
    for prior, plain in (("day_prior", "day_corrected"), ("year_daily_prior", "year_daily")):
        ratio = median(timings[prior, "current"][0]) / median(timings[plain, "current"][0])
        print(f"{prior} / {plain} (current, wall medians): {ratio:.2f}x")


if __name__ == "__main__":
    main()
