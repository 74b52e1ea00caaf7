"""The ``flexledger`` CLI, run as a real subprocess on a temporary data folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from infra.bootstrap import build_platform
from infra.settings import Settings
from projections.readings_query import latest_values

FLEXLEDGER = str(Path(sys.executable).parent / "flexledger")


def run_cli(home: Path, *args: str) -> str:
    env = {**os.environ, "FLEXLEDGER_BCRYPT_ROUNDS": "4", "FLEXLEDGER_HOME": str(home)}
    done = subprocess.run([FLEXLEDGER, *args], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


def all_readings(home: Path, sensor_id: int) -> dict[int, float]:
    platform = build_platform(Settings(home=home, bcrypt_rounds=4))
    try:
        with platform.read_models.read_engine.connect() as conn:
            return latest_values(conn, sensor_id, 0, 2**40)
    finally:
        platform.close()


@pytest.fixture
def demo_home(tmp_path: Path) -> Path:
    assert "demo data loaded" in run_cli(tmp_path, "demo")
    return tmp_path


def head_position(home: Path) -> int:
    platform = build_platform(Settings(home=home))
    try:
        return platform.store.head_position()
    finally:
        platform.close()


def test_demo_is_idempotent(demo_home: Path) -> None:
    head = head_position(demo_home)
    assert "already present" in run_cli(demo_home, "demo")
    assert head_position(demo_home) == head


def test_rebuild_reproduces_identical_query_results(demo_home: Path) -> None:
    run_cli(demo_home, "projections", "rebuild", "registry")
    run_cli(demo_home, "projections", "rebuild", "readings")
    before = all_readings(demo_home, 1)
    assert len(before) >= 21 * 96  # three weeks of 15-minute demo load (infra/demo_data), then forecasts
    run_cli(demo_home, "projections", "rebuild", "readings")
    assert all_readings(demo_home, 1) == before
    status = run_cli(demo_home, "projections", "status")
    assert "projection.readings" in status and "projection.registry" in status


def test_import_twice_stores_once(demo_home: Path, tmp_path_factory) -> None:
    csv = tmp_path_factory.mktemp("csv") / "load.csv"
    csv.write_text("datetime,value\n" + "".join(f"2020-01-01T{h:02d}:{m:02d}:00+00:00,{h * 4 + m / 15}\n"
                                               for h in range(24) for m in (0, 15, 30, 45)))
    first = run_cli(demo_home, "import", "readings", "--sensor", "2", str(csv))
    assert "96 readings: 96 new, 0 already stored" in first
    head = head_position(demo_home)
    again = run_cli(demo_home, "import", "readings", "--sensor", "2", str(csv))
    assert "96 readings: 0 new, 96 already stored" in again
    assert head_position(demo_home) == head  # the re-import appended nothing


def test_users_create_and_events_tail(tmp_path: Path) -> None:
    out = run_cli(tmp_path, "users", "create", "--email", "op@example.com", "--password", "long-password",
                  "--role", "Aggregator", "--account", "Ops")
    assert "op@example.com" in out
    tail = run_cli(tmp_path, "events", "tail")
    assert "AccountRegistered" in tail and "UserRegistered" in tail


@pytest.mark.shared_data
def test_import_sessions_is_idempotent(tmp_path: Path, shared_data: Path) -> None:
    """``flexledger import sessions``: 60 Caltech sessions (the first rows of the 2019 file), twice."""
    lines = (shared_data / "acn" / "caltech_2019-05-01_2019-08-31.csv").read_text().splitlines()[:61]
    path = tmp_path / "caltech_60.csv"
    path.write_text("\n".join(lines) + "\n")
    home = tmp_path / "home"
    platform = build_platform(Settings(home=home, bcrypt_rounds=4))
    try:
        from commands import registry as reg

        reg.register_account(platform.commands, reg.RegisterAccount(name="Caltech"))
    finally:
        platform.close()
    assert "60 sessions" in run_cli(home, "import", "sessions", "--account", "Caltech", str(path))
    head = head_position(home)
    platform = build_platform(Settings(home=home, bcrypt_rounds=4, run_processors=False))
    try:  # the same import again (in process: a second CLI start costs ~10 s) stores nothing
        from infra.session_import import import_sessions

        assert import_sessions(platform.commands, 1, path) == 60
        assert platform.store.head_position() == head
    finally:
        platform.close()
