"""Harness of the Kafka pipeline tests (``test_kafka_*.py``); no tests here.

:class:`KafkaPipeline` is the distributed deployment on one machine: an event store (SQLite
file, or PostgreSQL), the relay in a thread of this process publishing to Kafka (the mock
cluster) with its durable checkpoint, and PostgreSQL read models. Workers run either as real
subprocesses (``python -m infra.worker``: they can be SIGKILLed) or in threads
(:class:`streams.worker.Worker`). Readings are posted through the command handlers
(``RecordSensorData`` on sensors registered with ``commands.registry``), so the readings
projection is what the tests look at.

Waiting is bounded by :data:`GENEROUS_TIMEOUT_S` and never asserted on as a duration.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from commands import registry as cmd
from commands.readings import RecordSensorData, record_sensor_data
from infra.bootstrap import build_platform
from infra.checkpoints import SqlCheckpointStore
from infra.readmodels.database import sqlite_readmodels
from infra.settings import Settings
from projections.readings import ReadingsProjection
from projections.replay import rebuild
from streams.relay import Relay
from streams.relay_checkpoint import RelayCheckpoint

GENEROUS_TIMEOUT_S = 120.0
ROOT = Path(__file__).resolve().parents[2]
START = datetime(2024, 1, 1, tzinfo=UTC)

READINGS_ROWS = sa.text(
    "SELECT r.sensor_id, r.event_start, s.name, r.belief_time, r.value, r.resolution_s "
    "FROM readings r JOIN data_sources s ON s.id = r.source_id "
    "ORDER BY r.sensor_id, r.event_start, s.name, r.belief_time"
)


def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = GENEROUS_TIMEOUT_S, every_s=0.05) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(every_s)


class KafkaPipeline:
    """Event store -> relay -> Kafka -> workers -> PostgreSQL read models."""

    def __init__(self, home: Path, bootstrap_servers: str, read_models_url: str, event_store_url: str | None = None):
        self.home = home
        self.settings = Settings(
            home=home,
            event_store="postgres" if event_store_url else "sqlite",
            postgres_url=event_store_url or read_models_url,
            log="kafka",
            kafka_bootstrap_servers=bootstrap_servers,
            read_models="postgres",
            read_models_url=read_models_url,
            bcrypt_rounds=4,
            run_processors=False,
        )
        self.platform = build_platform(self.settings)
        self.ctx = self.platform.commands
        self.sensors: list[int] = []
        self.posts = 0
        self.expected_count, self.expected_sum = 0, 0.0
        self._relay_stop: threading.Event | None = None
        self.relay_error: BaseException | None = None
        self._relay_thread: threading.Thread | None = None
        self.relay: Relay | None = None
        self.workers: list[subprocess.Popen] = []

    # -- commands ---------------------------------------------------------------------
    def register_sensors(self, n: int) -> list[int]:
        account = cmd.register_account(self.ctx, cmd.RegisterAccount(name="kafka-test"))
        asset = cmd.register_asset(self.ctx, cmd.RegisterAsset(account_id=account, name="site", asset_type="building"))
        self.sensors = [
            cmd.register_sensor(
                self.ctx, cmd.RegisterSensor(asset_id=asset, name=f"power-{i}", unit="kW", event_resolution_s=900)
            )
            for i in range(n)
        ]
        return self.sensors

    def post_readings(self, posts_per_sensor: int, values_per_post: int = 4) -> None:
        """Post consecutive hours of readings per sensor (distinct events: every value is a new row)."""
        for _ in range(posts_per_sensor):
            hour = START + timedelta(hours=self.posts)
            for sensor in self.sensors:
                values = [float((sensor * 31 + self.posts * 7 + i) % 97) - 20.0 for i in range(values_per_post)]
                record_sensor_data(
                    self.ctx,
                    RecordSensorData(
                        sensor_id=sensor, start=hour, duration=timedelta(minutes=15 * values_per_post),
                        values=values, unit="kW", source="meter",
                    ),
                )
                self.expected_count += len(values)
                self.expected_sum += sum(values)
            self.posts += 1

    # -- relay ------------------------------------------------------------------------
    def start_relay(self, batch_size: int = 100, save_checkpoint: Callable[[int], None] | None = None) -> Relay:
        checkpoint = RelayCheckpoint(self.platform.checkpoints)
        self.relay = Relay(
            self.platform.store, self.platform.log, checkpoint.load(),
            save_checkpoint=save_checkpoint or checkpoint.save, batch_size=batch_size,
        )
        self._relay_stop = threading.Event()
        self.relay_error = None
        self._relay_thread = threading.Thread(target=self._run_relay, args=(self.relay, self._relay_stop), daemon=True)
        self._relay_thread.start()
        return self.relay

    def _run_relay(self, relay: Relay, stop: threading.Event) -> None:
        try:
            relay.run(stop)
        except BaseException as exc:  # noqa: BLE001 - kept for the test to look at
            self.relay_error = exc

    def relay_alive(self) -> bool:
        return self._relay_thread is not None and self._relay_thread.is_alive()

    def wait_relayed(self) -> None:
        head = self.platform.store.head_position()
        wait_until(lambda: self.relay is not None and self.relay.position >= head, f"relay to reach {head}")

    def stop_relay(self) -> None:
        if self._relay_stop is not None:
            self._relay_stop.set()
            self._relay_thread.join(30)
            self._relay_stop = self._relay_thread = None

    # -- workers in subprocesses ----------------------------------------------------------
    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLEXLEDGER_")}
        for name, value in self.settings.model_dump(exclude_none=True).items():
            if name in ("home", "event_store", "postgres_url", "log", "kafka_bootstrap_servers",
                        "read_models", "read_models_url", "bcrypt_rounds"):
                env[f"FLEXLEDGER_{name.upper()}"] = str(value)
        env["FLEXLEDGER_RUN_PROCESSORS"] = "false"
        return env

    def spawn_worker(self, max_records: int = 50, faust: bool = False) -> subprocess.Popen:
        """``python -m infra.worker`` in a subprocess; its output goes to a log file in ``home``."""
        args = [sys.executable, "-m", "infra.worker", "--max-records", str(max_records)]
        if faust:
            args.append("--faust")
        log_path = self.home / f"worker-{len(self.workers)}.log"
        with log_path.open("w") as output:
            process = subprocess.Popen(args, cwd=ROOT, env=self.environment(), stdout=output, stderr=subprocess.STDOUT)
        process.log_path = log_path  # type: ignore[attr-defined]
        self.workers.append(process)
        return process

    @staticmethod
    def kill(process: subprocess.Popen) -> None:
        """SIGKILL: no shutdown code runs (no commit, no leaving the group)."""
        process.send_signal(signal.SIGKILL)
        process.wait(30)

    def stop(self, process: subprocess.Popen) -> None:
        """SIGTERM and wait: the worker finishes its batch, commits and leaves its group."""
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            self.kill(process)
            raise
        assert process.returncode == 0, f"worker exited with {process.returncode}:\n{self.log_of(process)}"

    @staticmethod
    def log_of(process: subprocess.Popen) -> str:
        return Path(process.log_path).read_text(errors="replace")[-4000:]  # type: ignore[attr-defined]

    # -- the read model -------------------------------------------------------------------
    def readings_totals(self) -> tuple[int, float]:
        with self.platform.read_models.read_engine.connect() as conn:
            if not sa.inspect(conn).has_table("readings"):
                return 0, 0.0
            count, total = conn.execute(sa.text("SELECT count(*), coalesce(sum(value), 0) FROM readings")).one()
        return int(count), float(total)

    def wait_for_readings(self, count: int, processes: list[subprocess.Popen] = ()) -> None:
        def done() -> bool:
            for process in processes:
                assert process.poll() is None, f"worker exited with {process.returncode}:\n{self.log_of(process)}"
            return self.readings_totals()[0] >= count

        wait_until(done, f"{count} readings in the read model", every_s=0.2)

    def readings_rows(self) -> list[tuple]:
        with self.platform.read_models.read_engine.connect() as conn:
            return [tuple(row) for row in conn.execute(READINGS_ROWS)]

    def reference_rows(self) -> list[tuple]:
        """The readings table rebuilt from the event store by the embedded path (SQLite)."""
        reference = sqlite_readmodels(self.home / f"reference-{time.monotonic_ns()}.db")
        try:
            checkpoints = SqlCheckpointStore(reference.write_engine)
            checkpoints.create_tables()
            rebuild(self.platform.store, reference.write_engine, ReadingsProjection(), checkpoints)
            with reference.read_engine.connect() as conn:
                return [tuple(row) for row in conn.execute(READINGS_ROWS)]
        finally:
            reference.close()

    def close(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    self.kill(process)
        self.stop_relay()
        self.platform.close()
