"""The embedded deployment: processors follow the event store from their own checkpoints.

After N events and an idle period, every processor's checkpoint is at the head (also the ones
that received none of the events), ``flexledger projections status`` shows lag 0 for each,
and a restart hands no already-processed event to any processor. Readings: the first day of
the demo's ACN-Data slice (``infra/demo_data/caltech_load_15min.csv``, provenance in its README).
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from commands import registry as cmd
from commands.readings import RecordSensorData, record_sensor_data
from infra import cli
from infra.bootstrap import Platform, build_platform
from infra.settings import Settings
from streams.topics import TOPIC_READINGS

DEMO_LOAD = Path(__file__).resolve().parents[2] / "infra" / "demo_data" / "caltech_load_15min.csv"
GENEROUS_TIMEOUT_S = 60.0
"""Upper bound for waits on things that take milliseconds (never asserted as a duration)."""


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + GENEROUS_TIMEOUT_S
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.02)


def demo_day() -> tuple[datetime, list[float]]:
    with DEMO_LOAD.open() as f:
        rows = list(csv.DictReader(f))[:96]
    return datetime.fromisoformat(rows[0]["datetime"]), [float(r["power_kw"]) for r in rows]


def embedded(home: Path) -> Platform:
    settings = Settings(home=home, bcrypt_rounds=4, event_store="sqlite", log="memory", read_models="sqlite")
    platform = build_platform(settings.model_copy(update={"run_processors": True}))
    platform.start()
    return platform


def post_readings(platform: Platform, posts: int) -> int:
    """Register a sensor and post ``posts`` hours of readings (one event each); returns the head."""
    ctx = platform.commands
    account = cmd.register_account(ctx, cmd.RegisterAccount(name="site"))
    asset = cmd.register_asset(ctx, cmd.RegisterAsset(account_id=account, name="garage", asset_type="building"))
    sensor = cmd.register_sensor(
        ctx, cmd.RegisterSensor(asset_id=asset, name="load", unit="kW", event_resolution_s=900)
    )
    start, values = demo_day()
    for hour in range(posts):
        command = RecordSensorData(
            sensor_id=sensor, start=start + timedelta(hours=hour), duration=timedelta(hours=1),
            values=values[4 * hour : 4 * hour + 4], unit="kW", source="meter",
        )  # fmt: skip
        record_sensor_data(ctx, command)
    return platform.store.head_position()


def status_rows(home: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, tuple[int, int, int]]:
    """``flexledger projections status`` (typer's runner, in this process): processor -> (checkpoint, head, lag)."""
    monkeypatch.setenv("FLEXLEDGER_HOME", str(home))
    done = CliRunner().invoke(cli.app, ["projections", "status"], env={"COLUMNS": "200"})
    assert done.exit_code == 0, done.output
    rows = {}
    for line in done.output.splitlines():
        cells = [c.strip() for c in line.replace("┃", "│").split("│") if c.strip()]
        if len(cells) == 4 and cells[1].isdigit():
            rows[cells[0]] = (int(cells[1]), int(cells[2]), int(cells[3]))
    return rows


def test_idle_processors_reach_the_head_and_a_restart_reprocesses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform = embedded(tmp_path)
    try:
        head = post_readings(platform, posts=20)
        assert platform.wait_for(head, timeout_s=GENEROUS_TIMEOUT_S)
        # idle: every processor saves its checkpoint at the head, also those that got no event
        wait_until(lambda: all(p.checkpoint() >= head for p in platform.processors), "checkpoints at the head")
        assert not platform.log._topics, "the embedded deployment publishes nothing to a log"  # type: ignore[attr-defined]
    finally:
        platform.close()

    rows = status_rows(tmp_path, monkeypatch)
    assert set(rows) == {p.name for p in platform.processors}
    assert all(lag == 0 and checkpoint == head for checkpoint, _, lag in rows.values()), rows

    restarted = embedded(tmp_path)
    try:
        followers = restarted.runner.loops
        assert all(f.position == head for f in followers.values())
        start, values = demo_day()
        ctx = restarted.commands
        sensor = 1
        command = RecordSensorData(
            sensor_id=sensor, start=start + timedelta(days=1), duration=timedelta(hours=1), values=values[:4],
            unit="kW", source="meter",
        )  # fmt: skip
        record_sensor_data(ctx, command)
        new_head = restarted.store.head_position()
        assert restarted.wait_for(new_head, timeout_s=GENEROUS_TIMEOUT_S)
        handed = {name: f.applied for name, f in followers.items()}
    finally:
        restarted.close()
    # only the one new reading, and only to the processors of the readings topic
    readings_processors = {"scheduler", "forecaster"} | {
        p.name for p in platform.processors if TOPIC_READINGS in getattr(p, "topics", ())
    }
    assert handed == {name: int(name in readings_processors) for name in handed}
