"""``flexledger audit export`` / ``import`` as real subprocesses: a full export imports into a
fresh store with the same hashes and its replay gives identical read models; an edited export is
refused at the edited event; a filtered export verifies line by line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from test_api_support import seed_world

from commands.readings import RecordSensorData, record_sensor_data
from domain.audit_chain import verify_chain
from domain.audit_export import ExportError, ExportFilter, verify_lines
from domain.personal_data import ERASED
from infra.audit_files import export_to, import_from
from infra.bootstrap import build_platform
from infra.settings import Settings

FLEXLEDGER = str(Path(sys.executable).parent / "flexledger")
COMPARED_TABLES = ("accounts", "users", "assets", "sensors", "data_sources", "readings", "jobs")


def cli(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "FLEXLEDGER_HOME": str(home), "FLEXLEDGER_BCRYPT_ROUNDS": "4"}
    return subprocess.run([FLEXLEDGER, *args], env=env, capture_output=True, text=True, timeout=180)


def platform_on(home: Path):
    return build_platform(Settings(home=home, bcrypt_rounds=4))


def read_models(home: Path) -> dict[str, list]:
    """Every row of the compared read-model tables, after the projections caught up."""
    platform = platform_on(home)
    try:
        platform.start()
        assert platform.wait_for(platform.store.head_position(), timeout_s=60)
        tables = {}
        with platform.read_models.read_engine.connect() as conn:
            for name in COMPARED_TABLES:
                table = sa.Table(name, sa.MetaData(), autoload_with=conn)
                tables[name] = sorted(map(repr, conn.execute(sa.select(table)).all()))
        return tables
    finally:
        platform.close()


def seeded(home: Path) -> None:
    platform = platform_on(home)
    try:
        world = seed_world(platform.commands)
        for i, sensor in enumerate(("CS 1/power", "PV/power", "Other CS/power")):
            record_sensor_data(
                platform.commands,
                RecordSensorData(sensor_id=world.sensors[sensor], start=datetime(2024, 1, 1, tzinfo=UTC),
                                 duration=timedelta(hours=2), values=[i, 1.5, -2.25, 3, 4, 5, 6.125, 7],
                                 unit="kW", source="meter"),
            )  # fmt: skip
    finally:
        platform.close()


def test_full_export_imports_with_identical_hashes_and_read_models(tmp_path: Path) -> None:
    source, target, export = tmp_path / "source", tmp_path / "target", tmp_path / "export.jsonl"
    seeded(source)
    done = cli(source, "audit", "export", "--out", str(export), "--with-keys")  # the real CLI, with its progress bar
    assert done.returncode == 0, done.stdout + done.stderr
    assert "@alpha.test" not in export.read_text()  # personal fields travel sealed, keys beside them
    lines = [json.loads(line) for line in export.read_text().splitlines()]
    checkpoint, keys = lines[-1]["checkpoint"], lines[-2]["personal_data_keys"]
    assert checkpoint["position"] == lines[-3]["position"] == len(lines) - 2
    assert sorted(keys) == sorted(f"user-{i}" for i in range(1, 5))
    done = cli(target, "audit", "import", str(export))
    assert done.returncode == 0, done.stdout + done.stderr
    assert checkpoint["head_hash"] in done.stdout
    platform = platform_on(target)
    try:
        report = verify_chain(platform.store)
        assert (report.ok, report.head_hash) == (True, checkpoint["head_hash"])
        with pytest.raises(ExportError, match="not empty"):
            import_from(platform, export)
    finally:
        platform.close()
    assert read_models(source) == read_models(target)


def test_without_keys_the_imported_users_personal_data_reads_erased(tmp_path: Path) -> None:
    """An export without ``--with-keys`` verifies and replays, but its users' personal fields stay unreadable."""
    source, target, export = tmp_path / "source", tmp_path / "target", tmp_path / "export.jsonl"
    seeded(source)
    platform = platform_on(source)
    try:
        export_to(platform, export, ExportFilter())
    finally:
        platform.close()
    platform = platform_on(target)
    try:
        import_from(platform, export)
        assert verify_chain(platform.store).ok
        emails = {e.data["email"] for e in platform.store.read_all(0, 10_000, types=["UserRegistered"])}
        assert emails == {ERASED}
    finally:
        platform.close()
    source_models, target_models = read_models(source), read_models(target)
    assert target_models["users"] == [] and len(source_models["users"]) == 4
    assert {k: v for k, v in source_models.items() if k != "users"} == {
        k: v for k, v in target_models.items() if k != "users"
    }


def test_an_edited_or_shortened_export_is_refused_at_the_right_event(tmp_path: Path) -> None:
    source, export = tmp_path / "source", tmp_path / "export.jsonl"
    seeded(source)
    platform = platform_on(source)
    try:
        export_to(platform, export, ExportFilter())
    finally:
        platform.close()
    original = export.read_text()
    lines = [json.loads(line) for line in original.splitlines()]
    edited = next(line for line in lines if line.get("type") == "SensorDataRecorded")
    edited["data"]["values"][0] = 99.0
    export.write_text("".join(json.dumps(line) + "\n" for line in lines))
    done = cli(tmp_path / "target", "audit", "import", str(export))
    assert done.returncode == 1
    assert f"REFUSED: position {edited['position']}: hash mismatch" in done.stdout
    for index, expected in ((3, "position 5: not chained"), (-2, "does not match the checkpoint")):
        lines = original.splitlines()
        del lines[index]  # a missing event: the chain breaks at the next one, or the end misses the checkpoint
        export.write_text("\n".join(lines) + "\n")
        target = build_platform(Settings(home=tmp_path / f"target{index}", bcrypt_rounds=4))
        try:
            with pytest.raises(ExportError, match=expected):
                import_from(target, export)
        finally:
            target.close()


def test_a_filtered_export_verifies_line_by_line(tmp_path: Path) -> None:
    source, export = tmp_path / "source", tmp_path / "export.jsonl"
    seeded(source)
    platform = platform_on(source)
    try:
        since = datetime(2000, 1, 1, tzinfo=UTC)
        done = export_to(platform, export, ExportFilter(("sensordata-",), since))
    finally:
        platform.close()
    lines = [json.loads(line) for line in export.read_text().splitlines()]
    events = list(verify_lines(lines[:-1], full=False))
    assert len(events) == done["events"] == 3 and all(e.stream_id.startswith("sensordata-") for e in events)
    assert lines[-1]["checkpoint"]["position"] == events[-1].global_position
