"""Where the forecasting pipeline's CPU goes: the models versus everything else, per thread.

The workload of :mod:`bench.forecast_throughput` (hourly EV load, ``chunk`` hours per readings
event) recorded through the command layer into a platform running in this process (embedded:
SQLite, the processors as threads), until every forecast is in the ``forecast_models`` read
model and every processor has applied the store's head. The time inside
``SensorForecaster.observe_all`` (thread CPU time) is the models' share; the rest of the
process's CPU is everything else (event building and appends, projections, followers,
pollers). Run by ``bench/forecast_throughput.py --in-process``.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import timedelta
from pathlib import Path

from bench.common import temp_home
from bench.forecast_throughput import START, hourly_load_kw
from commands import registry as cmd
from commands.readings import RecordSensorData, record_sensor_data
from domain.forecasting import SensorForecaster
from infra.bootstrap import build_platform
from infra.settings import Settings
from projections.forecast_models import forecast_model

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _thread_cpu_s() -> dict[int, float]:
    """User + system CPU seconds of each thread of this process (Linux ``/proc``), by native id."""
    out = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        out[int(task.name)] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return out


class ModelClock:
    """Thread CPU seconds spent inside ``SensorForecaster.observe_all`` while installed."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._original = SensorForecaster.observe_all

    def __enter__(self) -> ModelClock:
        original, clock = self._original, self

        def observe_all(forecaster, *args, **kwargs):
            started = time.thread_time()
            try:
                return original(forecaster, *args, **kwargs)
            finally:
                clock.seconds += time.thread_time() - started

        SensorForecaster.observe_all = observe_all
        return self

    def __exit__(self, *exc) -> None:
        SensorForecaster.observe_all = self._original


def _post(platform, sensor: int, values: list[float], chunk: int) -> None:
    ctx = platform.commands
    for first in range(0, len(values), chunk):
        part = values[first : first + chunk]
        start, duration = START + timedelta(hours=first), timedelta(hours=len(part))
        command = RecordSensorData(sensor_id=sensor, start=start, duration=duration, values=part, unit="kW",
                                   source="bench")  # fmt: skip
        record_sensor_data(ctx, command, cmd.load_sensor(ctx, sensor))


def _wait_until_forecast(platform, sensor: int, hours: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        head = platform.store.head_position()
        platform.wait_for(head, timeout_s=max(0.0, deadline - time.monotonic()))
        with platform.read_models.read_engine.connect() as conn:
            row = forecast_model(conn, sensor)
        if row and row["forecasts"] >= hours and platform.store.head_position() == head:
            return
        time.sleep(0.02)
    raise SystemExit(f"not every forecast was made within {timeout_s:.0f} s")


def run_in_process(days: int, chunk: int, timeout_s: float) -> None:
    hours = days * 24
    platform = build_platform(Settings(home=temp_home(), bcrypt_rounds=4))
    platform.start()
    try:
        ctx = platform.commands
        account = cmd.register_account(ctx, cmd.RegisterAccount(name="bench"))
        asset = cmd.register_asset(ctx, cmd.RegisterAsset(account_id=account, name="garage", asset_type="building"))
        attributes = {"forecasting": {"country": "US"}}
        register = cmd.RegisterSensor(asset_id=asset, name="EV charging load", unit="kW", event_resolution_s=3600,
                                      attributes=attributes)  # fmt: skip
        sensor = cmd.register_sensor(ctx, register)
        time.sleep(1.5)  # let start-up work settle before the CPU reading
        with ModelClock() as model:
            before, cpu_before, wall_before = _thread_cpu_s(), time.process_time(), time.perf_counter()
            _post(platform, sensor, hourly_load_kw(hours), chunk)
            _wait_until_forecast(platform, sensor, hours, timeout_s)
            cpu, wall = time.process_time() - cpu_before, time.perf_counter() - wall_before
            after = _thread_cpu_s()
        names = {t.native_id: t.name for t in threading.enumerate()}
    finally:
        platform.close()
    rest = cpu - model.seconds
    load = os.getloadavg()
    print(f"# forecasting in process, {hours:,} hourly readings, load average {' '.join(f'{x:.2f}' for x in load)}")
    print(f"CPU {cpu:.2f} s ({1000 * cpu / hours:.3f} ms per reading), wall {wall:.2f} s")
    print(f"  models (inside observe_all) {model.seconds:.2f} s ({1000 * model.seconds / hours:.3f} ms per reading)")
    print(f"  everything else {rest:.2f} s ({1000 * rest / hours:.3f} ms per reading), of which per thread:")
    for seconds, tid in sorted(((after[t] - before.get(t, 0.0), t) for t in after), reverse=True):
        name = names.get(tid, "?")
        if name == "flexledger-forecaster":
            seconds -= model.seconds
        if seconds >= 0.005 * hours / 1000:  # from 0.005 ms per reading
            print(f"    {1000 * seconds / hours:6.3f} ms per reading  {name}")
