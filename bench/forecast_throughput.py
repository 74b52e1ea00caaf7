"""End-to-end forecasting throughput: POST hourly history -> every 48 h forecast stored and queryable.

A ``flexledger serve`` (embedded: SQLite event store and read models, processors in the
server process) gets a sensor with the ``forecasting`` attribute (an EV charging load in kW,
so consumption-only: never forecast below 0). The bench posts ``--days`` of hourly history
through ``POST /api/v3_0/sensors/{id}/data`` (``--chunk`` hours per request), then waits until
``GET /api/v3_0/sensors/{id}/forecasting`` shows one forecast per hour of data (the last one
made at the end of the data) and ``GET /sensors/{id}/data?source=forecaster:auto`` returns the
full 48 h forecast after the data's end, and checks that every forecast event is stored.

Printed: wall time, CPU seconds of the server's process tree (``/proc``: user + system,
the processors included) from the first POST until everything was queryable, readings per
CPU-second and per wall second, and the bytes the forecaster appended per hour of history
(forecast beliefs and ``ForecastMade`` summaries, as stored in the event store). The load
average is printed: the machine is shared, CPU seconds are the figure to compare. The bench
polls every ``--poll`` seconds (default 0.2); each poll costs the server ~2 ms of CPU (the
request, authentication, a read-model query), so polling every 0.05 s added ~4% of a core.

``--in-process``: the same history through the command layer (no HTTP) to a platform in this
process, printing where the CPU went: the models (time inside ``SensorForecaster.observe_all``)
and everything else, per thread (the forecaster, each projection, the idle pollers).

    PYTHONPATH=. .venv/bin/python bench/forecast_throughput.py            # 180 days
    PYTHONPATH=. .venv/bin/python bench/forecast_throughput.py --quick    # 30 days
    PYTHONPATH=. .venv/bin/python bench/forecast_throughput.py --in-process
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sqlite3
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import server_process, temp_home  # noqa: E402

START = datetime(2024, 1, 1, tzinfo=UTC)
HORIZON_H = 48
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def tree_cpu_s(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its live descendants (Linux ``/proc``)."""
    total = 0.0
    for candidate in [pid, *_descendants(pid)]:
        try:
            fields = Path(f"/proc/{candidate}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
    return total


def _descendants(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except FileNotFoundError:
            continue
        for child in map(int, children):
            found += [child, *_descendants(child)]
    return found


def hourly_load_kw(hours: int) -> list[float]:
    """An EV charging load (kW): a daily bell on workdays, lower at weekends, deterministic noise."""
    out = []
    for h in range(hours):
        hour, weekday = h % 24, (h // 24) % 7
        bell = math.exp(-(((hour - 13) / 3.5) ** 2)) * (40.0 if weekday < 5 else 12.0)
        noise = ((h * 2654435761) % 1000) / 1000.0 * 6.0
        out.append(round(max(0.0, bell + noise - 2.0), 3))
    return out


def _setup_sensor(client: httpx.Client, base: str) -> int:
    asset = client.post(f"{base}/api/v3_0/assets", json={"name": "garage", "generic_asset_type_id": 4})
    asset.raise_for_status()
    body = {"name": "EV charging load", "unit": "kW", "event_resolution": "PT1H",
            "generic_asset_id": asset.json()["id"], "attributes": {"forecasting": {"country": "US"}}}  # fmt: skip
    sensor = client.post(f"{base}/api/v3_0/sensors", json=body)
    sensor.raise_for_status()
    return sensor.json()["id"]


def _post_history(client: httpx.Client, base: str, sensor: int, values: list[float], chunk: int) -> None:
    for first in range(0, len(values), chunk):
        part = values[first : first + chunk]
        body = {"values": part, "start": (START + timedelta(hours=first)).isoformat(),
                "duration": f"PT{len(part)}H", "unit": "kW"}  # fmt: skip
        client.post(f"{base}/api/v3_0/sensors/{sensor}/data", json=body).raise_for_status()


def _all_queryable(client: httpx.Client, base: str, sensor: int, hours: int) -> bool:
    status = client.get(f"{base}/api/v3_0/sensors/{sensor}/forecasting").json()
    end = START + timedelta(hours=hours)
    if status.get("forecasts") != hours or status.get("latest_belief_time") != end.isoformat():
        return False
    params = {"start": end.isoformat(), "duration": f"PT{HORIZON_H}H", "source": "forecaster:auto"}
    values = client.get(f"{base}/api/v3_0/sensors/{sensor}/data", params=params).json()["values"]
    return None not in values and min(values) >= 0.0


def _stored(home: Path, sensor: int) -> tuple[int, int, int]:
    """(forecast belief events, their bytes, ForecastMade bytes) in the event store (data + metadata)."""
    count = belief_bytes = made_bytes = 0
    with sqlite3.connect(home / "events.db") as db:
        rows = db.execute(
            "SELECT stream_id, data, metadata FROM events WHERE stream_id IN (?, ?)",
            (f"sensordata-{sensor}", f"forecast-{sensor}"),
        )
        for stream_id, data, metadata in rows:
            size = len(data) + len(metadata)
            if stream_id.startswith("forecast-"):
                made_bytes += size
            elif json.loads(data).get("source") == "forecaster:auto":
                count, belief_bytes = count + 1, belief_bytes + size
    return count, belief_bytes, made_bytes


def run(days: int, chunk: int, timeout_s: float, poll_s: float = 0.2) -> None:
    hours = days * 24
    values = hourly_load_kw(hours)
    home = temp_home()
    with server_process(home) as (base, token, server):
        with httpx.Client(headers={"Authorization": token}, timeout=120) as client:
            sensor = _setup_sensor(client, base)
            time.sleep(1.0)  # let start-up work settle before the CPU reading
            cpu_before, wall_before = tree_cpu_s(server.pid), time.perf_counter()
            _post_history(client, base, sensor, values, chunk)
            posted = time.perf_counter() - wall_before
            deadline = time.monotonic() + timeout_s
            while not _all_queryable(client, base, sensor, hours):
                if time.monotonic() > deadline:
                    raise SystemExit(f"not every forecast was queryable within {timeout_s:.0f} s")
                time.sleep(poll_s)
            wall, cpu = time.perf_counter() - wall_before, tree_cpu_s(server.pid) - cpu_before
        count, belief_bytes, made_bytes = _stored(home, sensor)
    load = os.getloadavg()
    print(f"# forecasting end to end, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")  # fmt: skip
    print(f"{hours:,} hourly readings posted in {hours // chunk + (hours % chunk > 0)} requests of {chunk} h "
          f"({posted:.1f} s); {count:,} forecasts of {HORIZON_H} h stored and queryable")  # fmt: skip
    print(f"server CPU (process tree, user + system): {cpu:.2f} s; wall {wall:.2f} s")
    print(f"  {hours / cpu:,.0f} readings per CPU-second (goal >= 2,000); {hours / wall:,.0f} readings/s wall")
    print(f"stored per hour of history: forecast beliefs {belief_bytes / hours:,.0f} B, "
          f"ForecastMade summaries {made_bytes / hours:,.0f} B")  # fmt: skip
    if count != hours:
        raise SystemExit(f"expected {hours} stored forecasts, found {count}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=180, help="days of hourly history (default 180)")
    parser.add_argument("--chunk", type=int, default=24 * 7, help="hours per POST (default 168)")
    parser.add_argument("--quick", action="store_true", help="30 days")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait for the forecasts")
    parser.add_argument("--poll", type=float, default=0.2, help="seconds between the bench's status polls")
    parser.add_argument("--in-process", action="store_true", help="no HTTP: the CPU split of this process")
    args = parser.parse_args(argv)
    days = 30 if args.quick else args.days
    if args.in_process:
        from bench.forecast_split import run_in_process

        run_in_process(days, args.chunk, args.timeout)
    else:
        run(days, args.chunk, args.timeout, args.poll)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
