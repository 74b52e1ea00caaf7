"""Pipeline benchmark: event store -> relay -> Kafka -> worker processes -> readings read model.

The broker is librdkafka's mock cluster inside this process: the mock broker is no
performance reference (no disk, no replication, one machine). The figures show what the
flexledger side costs (encoding, relay, consumer loop, read-model transactions) and that
more workers share the work; they are not Kafka capacity numbers.

Scenarios (each on a fresh cluster, event store and read-model database):

1. drain: ``--events`` ``SensorDataRecorded`` events (24 values each, over 48 sensors) are
   appended first; then the relay and 1, 2 and 4 worker processes start (``--workers``). Reported: events/s
   and readings/s (total and per worker) from the relay's start until the last event is visible in the read model.
2. lag: with the relay and 1, 2, then 4 workers running, events are appended open-loop at
   ``--rate`` events/s through the command handler (``RecordSensorData``). Reported: p50/p95/p99
   of append -> visible, i.e. from the event's ``recorded_at`` (taken just before the append)
   to the commit of the readings transaction that applied it (same machine, same clock).

Workers are real processes (``multiprocessing``, spawn) running :class:`streams.worker.Worker`
with every processor of the platform (as ``flexledger worker``); the read model is PostgreSQL
when ``--postgres-url`` or ``FLEXLEDGER_TEST_POSTGRES_URL`` is set (a throwaway database),
SQLite otherwise.

Run: ``.venv/bin/python bench/pipeline.py [--quick]``
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

from bench.common import percentile, temp_home  # noqa: E402

START = datetime(2024, 1, 1, tzinfo=UTC)
VALUES_PER_EVENT = 24
SENSORS = 48
MOCK_NOTE = "the mock broker is no performance reference"
MOCK_FETCH = {"fetch.wait.max.ms": 50}
"""The mock broker answers a fetch only when ``fetch.wait.max.ms`` (default 500 ms) expires, a
real broker as soon as data arrives (``fetch.min.bytes``): the workers here wait 50 ms at most."""


# -- worker processes -------------------------------------------------------------------------
def _worker_main(settings_json: str, only_readings: bool, ready, stop, results) -> None:
    """A worker process (every processor, or the readings projection only); reports the lag of
    each readings event it applied."""
    import logging

    from infra.bootstrap import build_platform
    from infra.log.kafka import KafkaLog
    from infra.settings import Settings
    from streams.worker import Worker

    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("streams.runner").setLevel(logging.CRITICAL)  # retried batches are counted instead
    _quiet_topic_warnings()
    settings = Settings.model_validate_json(settings_json)
    platform = build_platform(settings)
    log = KafkaLog(settings.kafka_bootstrap_servers, settings.kafka_partitions, consumer_config=MOCK_FETCH)
    lags: dict[uuid.UUID, float] = {}

    def on_processed(name, _partition, events) -> None:
        if name == "projection.readings":
            now = time.time()
            for event in events:
                lags.setdefault(event.event_id, now - event.metadata.recorded_at.timestamp())

    processors = [p for p in platform.processors if not only_readings or p.name == "projection.readings"]
    worker = Worker(log, processors, max_records=500, on_processed=on_processed)
    worker.start()
    while not worker.assignment().get("projection.readings"):
        time.sleep(0.05)
    ready.set()
    stop.wait()
    worker.stop()
    platform.close()
    results.put((list(lags.values()), sum(loop.errors for loop in worker.loops)))


def _quiet_topic_warnings() -> None:
    """The mock cluster cannot create topics: KafkaLog warns and relies on auto-creation."""
    import logging

    logging.getLogger("infra.log.kafka").setLevel(logging.ERROR)


@dataclass
class WorkerReport:
    lags_s: list[float] = field(default_factory=list)
    """Append -> visible of every readings event the workers applied (first application)."""
    retried_batches: int = 0
    """Batches a processor failed and retried (e.g. two workers inserting the same new data source)."""


@contextmanager
def workers(settings, count: int, only_readings: bool = False):
    """Start ``count`` worker processes; wait until each owns readings partitions; yields a report
    that is filled in when the workers stop."""
    ctx = mp.get_context("spawn")
    stop, results = ctx.Event(), ctx.Queue()
    readies = [ctx.Event() for _ in range(count)]
    arguments = (settings.model_dump_json(), only_readings)
    processes = [
        ctx.Process(target=_worker_main, args=(*arguments, ready, stop, results), daemon=True) for ready in readies
    ]
    for process in processes:
        process.start()
    for ready in readies:
        if not ready.wait(120):
            raise RuntimeError("a worker did not join its group")
    report = WorkerReport()
    try:
        yield report
    finally:
        stop.set()
        for _ in processes:
            lags_s, retried = results.get(timeout=60)
            report.lags_s.extend(lags_s)
            report.retried_batches += retried
        for process in processes:
            process.join(30)


# -- one pipeline -----------------------------------------------------------------------------
class Pipeline:
    """Mock cluster, SQLite event store, relay thread in this process, read models."""

    def __init__(self, read_models_url: str | None):
        from confluent_kafka import Producer

        from commands import registry as cmd
        from infra.bootstrap import build_platform
        from infra.settings import Settings

        self._keeper = Producer({"test.mock.num.brokers": 1, "bootstrap.servers": "unused:1", "log_level": 3})
        servers = ",".join(f"{b.host}:{b.port}" for b in self._keeper.list_topics(timeout=5).brokers.values())
        postgres = {"read_models": "postgres", "read_models_url": read_models_url} if read_models_url else {}
        self.settings = Settings(
            home=temp_home(), log="kafka", kafka_bootstrap_servers=servers, bcrypt_rounds=4,
            run_processors=False, **postgres,
        )
        self.platform = build_platform(self.settings)
        ctx = self.platform.commands
        account = cmd.register_account(ctx, cmd.RegisterAccount(name="bench"))
        asset = cmd.register_asset(ctx, cmd.RegisterAsset(account_id=account, name="site", asset_type="building"))
        commands = [
            cmd.RegisterSensor(asset_id=asset, name=f"p{i}", unit="kW", event_resolution_s=900) for i in range(SENSORS)
        ]
        self.sensors = [cmd.register_sensor(ctx, c) for c in commands]
        self.events = 0
        self._stop = threading.Event()

    def append_backlog(self, events: int) -> float:
        """Append ``events`` readings events in bulk (one append per sensor); returns events/s."""
        from domain.beliefs import SensorDataRecorded
        from domain.events import NewEvent

        started = time.perf_counter()
        per_sensor = events // len(self.sensors)
        for sensor in self.sensors:
            batch = [NewEvent.of(self._event(SensorDataRecorded, sensor, i)) for i in range(per_sensor)]
            self.platform.store.append(f"sensordata-{sensor}", batch)
        self.events += per_sensor * len(self.sensors)
        return per_sensor * len(self.sensors) / (time.perf_counter() - started)

    def _event(self, cls, sensor: int, i: int):
        return cls(
            sensor_id=sensor, start=START + timedelta(hours=6 * i), resolution_s=900,
            values=[float((sensor + i + k) % 50) for k in range(VALUES_PER_EVENT)], unit="kW", source="bench",
            received_at=datetime.now(UTC),
        )

    def post_open_loop(self, rate_per_s: float, seconds: float) -> None:
        """Post one event per command at a fixed rate (open loop), round-robin over sensors."""
        from commands.readings import RecordSensorData, record_sensor_data

        ctx = self.platform.commands
        count = int(rate_per_s * seconds)
        started = time.perf_counter()
        for n in range(count):
            delay = started + n / rate_per_s - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            sensor, i = self.sensors[n % len(self.sensors)], 100_000 + n // len(self.sensors)
            values = [float((sensor + i + k) % 50) for k in range(VALUES_PER_EVENT)]
            record_sensor_data(ctx, RecordSensorData(
                sensor_id=sensor, start=START + timedelta(hours=6 * i), duration=timedelta(hours=6),
                values=values, unit="kW", source="bench",
            ))
        self.events += count

    def start_relay(self) -> None:
        from streams.relay_checkpoint import RelayCheckpoint
        from streams.worker import start_relay

        checkpoint = RelayCheckpoint(self.platform.checkpoints)
        self._relay = start_relay(self.platform.log, self.platform.store, checkpoint, self._stop)

    def wait_visible(self, timeout_s: float = 300) -> float:
        """Wait until every appended event's readings are in the read model; returns the time."""
        expected = self.events * VALUES_PER_EVENT
        deadline = time.monotonic() + timeout_s
        engine = self.platform.read_models.read_engine
        while True:
            with engine.connect() as conn:
                if conn.execute(sa.text("SELECT count(*) FROM readings")).scalar() >= expected:
                    return time.perf_counter()
            if time.monotonic() > deadline:
                raise RuntimeError("the read model did not catch up")
            time.sleep(0.02)

    def close(self) -> None:
        self._stop.set()
        self.platform.close()


@contextmanager
def read_models_database(base_url: str | None):
    """A throwaway PostgreSQL database (or None: SQLite read models)."""
    if not base_url:
        yield None
        return
    import psycopg2
    from sqlalchemy.engine import make_url

    url, name = make_url(base_url), f"flexledger_bench_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(dbname=url.database, user=url.username, password=url.password, host=url.host,
                             port=url.port)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def drain(base_url: str | None, events: int, worker_count: int) -> tuple[float, float, WorkerReport]:
    """(bulk append events/s, events/s from relay start to all visible, worker report)."""
    with read_models_database(base_url) as url:
        pipeline = Pipeline(url)
        try:
            append_rate = pipeline.append_backlog(events)
            with workers(pipeline.settings, worker_count) as report:
                started = time.perf_counter()
                pipeline.start_relay()
                done = pipeline.wait_visible()
            return append_rate, pipeline.events / (done - started), report
        finally:
            pipeline.close()


def lag(base_url: str | None, rate_per_s: float, seconds: float, worker_count: int) -> WorkerReport:
    """Lags of every event posted open-loop (through the command handler) while the pipeline runs."""
    with read_models_database(base_url) as url:
        pipeline = Pipeline(url)
        try:
            with workers(pipeline.settings, worker_count) as report:
                pipeline.start_relay()
                pipeline.post_open_loop(rate_per_s, seconds)
                pipeline.wait_visible()
            return report
        finally:
            pipeline.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs")
    parser.add_argument("--events", type=int, default=None, help="backlog events for the drain scenario")
    parser.add_argument("--rate", type=float, default=200.0, help="events/s of the lag scenario")
    parser.add_argument("--seconds", type=float, default=None, help="duration of the lag scenario")
    parser.add_argument("--postgres-url", default=os.environ.get("FLEXLEDGER_TEST_POSTGRES_URL"))
    parser.add_argument("--workers", default="1,2,4", help="worker counts, comma-separated (default 1,2,4)")
    args = parser.parse_args()
    counts = [int(c) for c in args.workers.split(",")]
    _quiet_topic_warnings()
    events = args.events or (2_400 if args.quick else 9_600)
    seconds = args.seconds or (5.0 if args.quick else 10.0)
    store = "PostgreSQL" if args.postgres_url else "SQLite"
    print(f"pipeline: SQLite event store -> relay -> mock Kafka -> worker processes -> {store} read model")
    print(f"({MOCK_NOTE}; {VALUES_PER_EVENT} readings per event, {SENSORS} sensors)")
    print(f"(workers: fetch.wait.max.ms={MOCK_FETCH['fetch.wait.max.ms']}, the mock answers fetches only then)")
    for count in counts:
        append_rate, rate, report = drain(args.postgres_url, events, count)
        print(f"drain {events:,} events, {count} worker(s): {rate:>6,.0f} events/s "
              f"({rate * VALUES_PER_EVENT:,.0f} readings/s, {rate / count:,.0f} events/s per worker) "
              "relay start -> all visible; "
              f"bulk append {append_rate:,.0f} events/s; {report.retried_batches} batches retried  -- {MOCK_NOTE}")
    for count in counts:
        report = lag(args.postgres_url, args.rate, seconds, count)
        p50, p95, p99 = (percentile(report.lags_s, q) * 1000 for q in (50, 95, 99))
        print(f"lag at {args.rate:.0f} events/s for {seconds:.0f} s, {count} worker(s), {len(report.lags_s)} events: "
              f"append -> visible p50 {p50:.0f} ms  p95 {p95:.0f} ms  p99 {p99:.0f} ms  -- {MOCK_NOTE}")

if __name__ == "__main__":
    main()
