"""Projection rebuild benchmark: readings/s replayed from the event store into fresh tables.

Appends ``--days`` days of 15-minute readings for ``--sensors`` sensors as daily 96-value
posts (the shape the API produces) and as bulk 10,000-value events, then times
``projections.replay.rebuild`` of the readings projection (median of 3) and checks that the
rebuilt tables answer a query exactly as before.

Run: ``.venv/bin/python bench/rebuild.py [--quick]``; side by side with older code, alternating
runs in fresh interpreters: ``git archive main | tar -x -C /tmp/perf-before`` then
``.venv/bin/python bench/rebuild.py --before /tmp/perf-before [--runs 3]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, alternate, call_in_tree, median, temp_home  # noqa: E402
from commands import registry as cmd  # noqa: E402
from commands.readings import RecordSensorData, record_sensor_data  # noqa: E402
from infra.bootstrap import build_platform  # noqa: E402
from infra.settings import Settings  # noqa: E402
from projections.readings import ReadingsProjection  # noqa: E402
from projections.readings_query import latest_values  # noqa: E402
from projections.replay import rebuild  # noqa: E402

START = datetime(2024, 1, 1, tzinfo=UTC)


def fill(platform, sensors: int, days: int, values_per_event: int) -> int:
    ctx = platform.commands
    account = cmd.register_account(ctx, cmd.RegisterAccount(name="bench"))
    asset = cmd.register_asset(ctx, cmd.RegisterAsset(account_id=account, name="site", asset_type="building"))
    total = 0
    for s in range(sensors):
        sensor_id = cmd.register_sensor(
            ctx, cmd.RegisterSensor(asset_id=asset, name=f"p{s}", unit="kW", event_resolution_s=900)
        )
        state = cmd.load_sensor(ctx, sensor_id)
        n = days * 96
        for offset in range(0, n, values_per_event):
            count = min(values_per_event, n - offset)
            record_sensor_data(
                ctx,
                RecordSensorData(
                    sensor_id=sensor_id,
                    start=START + timedelta(minutes=15 * offset),
                    duration=timedelta(minutes=15 * count),
                    values=[float((offset + i) % 311) for i in range(count)],
                    unit="kW",
                    source="bench",
                ),
                state,
            )
            total += count
    return total


def run(sensors: int, days: int, values_per_event: int) -> tuple[float, int]:
    platform = build_platform(Settings(home=temp_home(), bcrypt_rounds=4))
    readings = fill(platform, sensors, days, values_per_event)
    engine = platform.read_models.write_engine
    projection = ReadingsProjection()
    rebuild(platform.store, engine, projection, platform.checkpoints)
    with engine.connect() as conn:
        before = latest_values(conn, 1, 0, 2**40)
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        rebuild(platform.store, engine, projection, platform.checkpoints, batch_size=500)
        timings.append(time.perf_counter() - started)
    with engine.connect() as conn:
        assert latest_values(conn, 1, 0, 2**40) == before, "rebuild changed query results"
    platform.close()
    return readings / median(timings), readings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--before", type=Path, help="folder with older code, measured alternately with this tree")
    parser.add_argument("--runs", type=int, default=3, help="runs per tree with --before")
    args = parser.parse_args()
    sensors, days = (5, 60) if args.quick else (10, 365)
    for label, per_event in (("daily 96-value posts", 96), ("bulk 10,000-value events", 10_000)):
        if args.before:
            _side_by_side(args.before, args.runs, sensors, days, label, per_event)
            continue
        rate, readings = run(sensors, days, per_event)
        print(
            f"rebuild readings projection, {readings:,} readings as {label}: "
            f"{rate:>10,.0f} readings/s (median of 3; target >= 1,000,000)"
        )


def _side_by_side(before: Path, runs: int, sensors: int, days: int, label: str, per_event: int) -> None:
    print(f"rebuild readings projection, {sensors * days * 96:,} readings as {label}, alternating:", flush=True)
    rates = alternate(
        {"before": before.resolve(), "after": ROOT},
        runs,
        lambda tree: round(call_in_tree(tree, "bench.rebuild", "run", sensors, days, per_event)[0]),
    )
    after, older = median(rates["after"]), median(rates["before"])
    print(f"  median after {after:,.0f} / before {older:,.0f} readings/s: {after / older:.2f}x (target >= 1,000,000)")


if __name__ == "__main__":
    main()
