"""CLI for users, keys and projection failures (issue #10, sections 1 and 5).

Runs the typer app in process (``typer.testing.CliRunner``: one interpreter start instead of one
per command; ``tests/integration/test_cli.py`` covers the installed ``flexledger`` script).
"""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from domain.events import NewEvent
from infra.bootstrap import build_platform
from infra.cli import app
from infra.settings import Settings
from projections import registry_query as rq

EMAIL = "op@example.com"
RUNNER = CliRunner()


def cli(home: Path, *args: str):
    """Run ``flexledger ARGS`` on the data folder ``home``; the result has ``exit_code`` and ``stdout``."""
    env = {"FLEXLEDGER_BCRYPT_ROUNDS": "4", "FLEXLEDGER_HOME": str(home), "COLUMNS": "200"}
    return RUNNER.invoke(app, list(args), env=env)


def ok(home: Path, *args: str) -> str:
    done = cli(home, *args)
    assert done.exit_code == 0, done.stdout + repr(done.exception)
    return done.stdout


def test_users_passwords_activation_and_keys(tmp_path: Path) -> None:
    ok(tmp_path, "users", "create", "--email", EMAIL, "--password", "long-password", "--role", "MDC")
    assert "reset" in ok(tmp_path, "users", "reset-password", "--email", EMAIL, "--password", "another-password")
    assert "deactivated" in ok(tmp_path, "users", "deactivate", "--email", EMAIL)
    assert "activated" in ok(tmp_path, "users", "activate", "--email", EMAIL)
    out = ok(tmp_path, "users", "create-key", "--email", EMAIL, "--name", "ci", "--expires-days", "30")
    key = out.strip().splitlines()[-1]
    assert key.startswith("flk_")
    key_id = key.removeprefix("flk_").split("_")[0]
    listed = ok(tmp_path, "users", "keys", "--email", EMAIL)
    assert key_id in listed and key not in listed
    ok(tmp_path, "users", "revoke-key", "--email", EMAIL, "--key-id", key_id)
    again = cli(tmp_path, "users", "revoke-key", "--email", EMAIL, "--key-id", key_id)
    assert again.exit_code == 1 and "UNRECOGNIZED_API_KEY" in again.stdout
    assert cli(tmp_path, "users", "deactivate", "--email", "nobody@example.com").exit_code != 0
    tail = ok(tmp_path, "events", "tail")
    assert "UserPasswordChanged" in tail and "credential-" not in tail and "PasswordHashSet" not in tail


def test_rebuild_skips_poison_events_and_failures_are_listed(tmp_path: Path) -> None:
    ok(tmp_path, "users", "create", "--email", EMAIL, "--password", "long-password", "--role", "MDC")
    platform = build_platform(Settings(home=tmp_path))
    try:
        platform.store.append("asset-77", [NewEvent(type="AssetChanged", data={"asset_id": 77, "changes": {"x": 1}})])
    finally:
        platform.close()
    assert "no projection failures" in ok(tmp_path, "projections", "failures")
    assert "1 events skipped" in ok(tmp_path, "projections", "rebuild", "registry")
    listed = cli(tmp_path, "projections", "failures")
    assert listed.exit_code == 1 and "AssetChanged" in listed.stdout and "1 skipped" in listed.stdout
    assert "AssetChanged" in ok(tmp_path, "projections", "status")
    platform = build_platform(Settings(home=tmp_path))
    try:
        with platform.read_models.read_engine.connect() as conn:
            assert rq.user_by_email(conn, EMAIL) is not None, "the users survived the rebuild"
    finally:
        platform.close()
