"""Ingest benchmark: bulk import into the embedded store, HTTP throughput, HTTP latency.

Prints three figures (medians of repeated runs where stated):
1. bulk import: readings/s from a CSV file into the SQLite event store through the importer
   (``flexledger import readings``: parsing plus ``SensorDataRecorded`` events of 10,000
   values), and readings/s projected into the read model;
2. HTTP: readings/s through ``POST /api/v3_0/sensors/{id}/data`` with 96-value posts from
   concurrent clients (each POST returns once the read model shows the data);
3. latency: p50/p99 of single 96-value posts sent open-loop at 50 requests/s.

Run: ``.venv/bin/python bench/ingest.py [--quick]``; the bulk import side by side with older code,
alternating runs in fresh interpreters: ``git archive main | tar -x -C /tmp/perf-before`` then
``.venv/bin/python bench/ingest.py --before /tmp/perf-before [--quick]`` (HTTP: ``bench/ingest_ab.py``).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, alternate, call_in_tree, median, percentile, running_server, temp_home  # noqa: E402
from commands import registry as cmd  # noqa: E402
from infra.bootstrap import build_platform  # noqa: E402
from infra.importer import import_readings  # noqa: E402
from infra.settings import Settings  # noqa: E402
from projections.readings import ReadingsProjection  # noqa: E402
from projections.replay import rebuild  # noqa: E402

START = datetime(2024, 1, 1, tzinfo=UTC)


def bulk_import(n_readings: int) -> tuple[float, float]:
    """(imported readings/s, projected readings/s) for one run on a fresh embedded store.

    The import is ``infra.importer.import_readings`` on a CSV file (parsing included), as
    ``flexledger import readings`` runs it; the projection is a rebuild of the readings model.
    """
    home = temp_home()
    platform = build_platform(Settings(home=home, bcrypt_rounds=4))
    ctx = platform.commands
    account = cmd.register_account(ctx, cmd.RegisterAccount(name="bench"))
    asset = cmd.register_asset(ctx, cmd.RegisterAsset(account_id=account, name="site", asset_type="building"))
    sensor = cmd.register_sensor(
        ctx, cmd.RegisterSensor(asset_id=asset, name="power", unit="kW", event_resolution_s=900)
    )
    csv = home / "readings.csv"
    step = timedelta(minutes=15)
    csv.write_text(
        "datetime,power_kw\n" + "".join(f"{(START + i * step).isoformat()},{i % 977}\n" for i in range(n_readings))
    )
    started = time.perf_counter()
    import_readings(ctx, sensor, csv)
    import_rate = n_readings / (time.perf_counter() - started)
    started = time.perf_counter()
    rebuild(
        platform.store, platform.read_models.write_engine, ReadingsProjection(), platform.checkpoints, batch_size=50
    )
    project_rate = n_readings / (time.perf_counter() - started)
    platform.close()
    return import_rate, project_rate


def _setup_sensor(base: str, token: str) -> int:
    headers = {"Authorization": token}
    asset = httpx.post(
        f"{base}/api/v3_0/assets", headers=headers, json={"name": "bench", "generic_asset_type_id": 4}
    ).json()
    sensor = httpx.post(
        f"{base}/api/v3_0/sensors",
        headers=headers,
        json={"name": "power", "unit": "kW", "event_resolution": "PT15M", "generic_asset_id": asset["id"]},
    ).json()
    return sensor["id"]


def _post_day(client: httpx.Client, base: str, token: str, sensor: int, day: int) -> float:
    body = {
        "values": [float((day * 96 + i) % 500) for i in range(96)],
        "start": (START + timedelta(days=day)).isoformat(),
        "duration": "P1D",
        "unit": "kW",
    }
    started = time.perf_counter()
    response = client.post(f"{base}/api/v3_0/sensors/{sensor}/data", json=body, headers={"Authorization": token})
    response.raise_for_status()
    return time.perf_counter() - started


def http_throughput(base: str, token: str, sensor: int, posts: int, clients: int, first_day: int = 10_000) -> float:
    """Readings/s of ``posts`` daily posts from ``clients`` threads (days from ``first_day`` on)."""
    counter = iter(range(posts))
    lock = threading.Lock()

    def worker() -> None:
        with httpx.Client(timeout=60) as client:  # a saturated server answers late: measure, do not fail
            while True:
                with lock:
                    day = next(counter, None)
                if day is None:
                    return
                _post_day(client, base, token, sensor, first_day + day)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return posts * 96 / (time.perf_counter() - started)


def http_latency(base: str, token: str, sensor: int, rate_per_s: float, count: int) -> list[float]:
    """Open loop: a request is started every 1/rate seconds regardless of earlier ones."""
    latencies: list[float] = []
    lock = threading.Lock()
    client = httpx.Client(limits=httpx.Limits(max_connections=64))

    def one(day: int) -> None:
        latency = _post_day(client, base, token, sensor, 50_000 + day)
        with lock:
            latencies.append(latency)

    threads = []
    started = time.perf_counter()
    for i in range(count):
        delay = started + i / rate_per_s - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        thread = threading.Thread(target=one, args=(i,))
        thread.start()
        threads.append(thread)
    for t in threads:
        t.join()
    client.close()
    return latencies


def _bulk_side_by_side(before: Path, n: int, runs: int) -> None:
    print(f"bulk import, {n:,} readings, alternating runs (import readings/s, projection readings/s):", flush=True)
    results = alternate(
        {"before": before.resolve(), "after": ROOT},
        runs,
        lambda tree: tuple(round(rate) for rate in call_in_tree(tree, "bench.ingest", "bulk_import", n)),
    )
    for index, what in enumerate(("import CSV into the event store", "project into readings model")):
        after, older = (median([r[index] for r in results[name]]) for name in ("after", "before"))
        ratio = after / older
        print(f"  {what}: after {after:,.0f} / before {older:,.0f} readings/s: {ratio:.2f}x (target >= 1,000,000)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--before", type=Path, help="folder with older code: bulk import only, alternating")
    args = parser.parse_args()
    n, runs = (200_000, 3) if args.quick else (1_000_000, 5)
    if args.before:
        _bulk_side_by_side(args.before, n, runs)
        return
    results = [bulk_import(n) for _ in range(runs)]
    print(f"bulk import, {n:,} readings, median of {runs}:")
    print(
        f"  import CSV into the event store: {median([r[0] for r in results]):>12,.0f} readings/s (target >= 1,000,000)"
    )
    print(f"  project into readings model  : {median([r[1] for r in results]):>12,.0f} readings/s")
    with running_server(temp_home()) as (base, token):
        sensor = _setup_sensor(base, token)
        posts = 300 if args.quick else 1500
        rates = [http_throughput(base, token, sensor, posts, clients=16) for _ in range(3)]
        print(f"HTTP, 96-value posts, 16 clients, median of 3 x {posts} posts:")
        print(f"  {median(rates):>12,.0f} readings/s (target >= 50,000)")
        http_latency(base, token, sensor, 50.0, 50)  # warm-up (connections, caches); not counted
        count = 250 if args.quick else 1000
        runs_ms = [[x * 1000 for x in http_latency(base, token, sensor, 50.0, count)] for _ in range(3)]
        p50s, p99s = [percentile(r, 50) for r in runs_ms], [percentile(r, 99) for r in runs_ms]
        print(f"HTTP latency of one 96-value post at 50 requests/s (3 runs x {count} requests, after warm-up):")
        print(
            f"  median p50 {median(p50s):.1f} ms, median p99 {median(p99s):.1f} ms, worst-run p99 {max(p99s):.1f} ms"
            " (target p99 < 50 ms)"
        )


if __name__ == "__main__":
    main()
