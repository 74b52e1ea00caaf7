"""The CLI's expected errors: one line on stderr (``error: ...``) and exit status 1, never a traceback.

Also the CSV import's format rules (header detection, ``--timezone`` for naive datetimes only).
Runs ``python -m infra.cli`` (the ``flexledger`` entry point's code) as a subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def cli(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "FLEXLEDGER_BCRYPT_ROUNDS": "4", "FLEXLEDGER_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "infra.cli", *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=120
    )


def one_error_line(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 1, done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    return lines[0]


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """A data folder with one user and a 15-minute kW sensor (id 1) on an asset."""
    home = tmp_path_factory.mktemp("cli-home")
    done = cli(home, "users", "create", "--email", "op@example.com", "--password", "long-password",
               "--role", "Prosumer", "--account", "Ops")  # fmt: skip
    assert done.returncode == 0, done.stderr
    code = (
        "from commands import registry as cmd; from infra.bootstrap import build_platform; "
        "from infra.settings import Settings; p = build_platform(Settings()); "
        "a = cmd.register_asset(p.commands, cmd.RegisterAsset(account_id=1, name='site', asset_type='charge_site')); "
        "cmd.register_sensor(p.commands, cmd.RegisterSensor(asset_id=a, name='load', unit='kW', "
        "event_resolution_s=900)); p.close()"
    )
    env = {**os.environ, "FLEXLEDGER_HOME": str(home)}
    subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, check=True, timeout=120)
    return home


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "readings.csv"
    path.write_text(text)
    return str(path)


def test_naive_datetime_names_the_line(home: Path, tmp_path: Path) -> None:
    line = one_error_line(cli(home, "import", "readings", "--sensor", "1", write(tmp_path, "2024-01-01T00:00:00,1\n")))
    assert "line 1" in line and "no offset" in line


def test_malformed_row_names_its_line(home: Path, tmp_path: Path) -> None:
    csv = "datetime,value\n2024-01-01T00:00:00+00:00,1\n2024-01-01T00:15:00+00:00,abc\n"
    line = one_error_line(cli(home, "import", "readings", "--sensor", "1", write(tmp_path, csv)))
    assert "line 3" in line and "'abc'" in line


def test_unknown_sensor(home: Path, tmp_path: Path) -> None:
    line = one_error_line(cli(home, "import", "readings", "--sensor", "999", write(tmp_path, "2024-01-01T00:00Z,1\n")))
    assert "no sensor 999" in line


def test_bad_unit(home: Path, tmp_path: Path) -> None:
    done = cli(home, "import", "readings", "--sensor", "1", "--unit", "kW(", write(tmp_path, "2024-01-01T00:00Z,1\n"))
    assert "kW(" in one_error_line(done)


def test_short_password_duplicate_user_and_unknown_role(home: Path) -> None:
    short = cli(home, "users", "create", "--email", "a@example.com", "--password", "short", "--role", "Prosumer")
    assert "password" in one_error_line(short)
    duplicate = cli(home, "users", "create", "--email", "op@example.com", "--password", "long-password",
                    "--role", "Prosumer", "--account", "Ops")  # fmt: skip
    assert "op@example.com" in one_error_line(duplicate)
    role = cli(home, "users", "create", "--email", "b@example.com", "--password", "long-password", "--role", "wizard")
    line = one_error_line(role)
    assert "wizard" in line and "Prosumer" in line  # lists the valid roles


def test_headerless_file_keeps_its_first_reading_and_timezone_applies_to_naive_datetimes(
    home: Path, tmp_path: Path
) -> None:
    csv = "2030-01-01T00:00:00,1\n2030-01-01T00:15:00,2\n2030-01-01T00:30:00+01:00,3\n"
    done = cli(home, "import", "readings", "--sensor", "1", "--timezone", "Europe/Amsterdam", write(tmp_path, csv))
    assert done.returncode == 0, done.stderr
    assert "3 readings: 3 new, 0 already stored" in done.stdout


def test_help_lists_roles_and_imports_nothing_heavy(home: Path) -> None:
    done = cli(home, "users", "create", "--help")
    assert done.returncode == 0 and "Prosumer" in done.stdout and "auditor" in done.stdout
    heavy = "('ortools', 'river', 'infra.bootstrap')"
    code = f"import sys, infra.cli; print(sorted(m for m in {heavy} if m in sys.modules))"
    probe = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert probe.stdout.strip() == "[]", probe.stdout + probe.stderr
