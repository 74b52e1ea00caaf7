"""``flexledger users ...`` commands for passwords, activation and API keys (registered by :mod:`infra.cli`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from infra.cli_common import DataDir, console
from infra.cli_common import platform_for as _platform

if TYPE_CHECKING:
    from infra.bootstrap import Platform


def register(users_app: typer.Typer) -> None:
    """Add this module's commands to ``flexledger users``."""
    users_app.command("reset-password")(users_reset_password)
    users_app.command("deactivate")(users_deactivate)
    users_app.command("activate")(users_activate)
    users_app.command("create-key")(users_create_key)
    users_app.command("revoke-key")(users_revoke_key)
    users_app.command("keys")(users_keys)
    users_app.command("forget")(users_forget)


def _user_id(platform: Platform, email: str) -> int:
    from commands.users import user_id_by_email

    user_id = user_id_by_email(platform.commands, email)
    if user_id is None:
        raise typer.BadParameter(f"no user with e-mail {email}", param_hint="--email")
    return user_id


def _run_user_command(data_dir: Path | None, email: str, action) -> None:
    """Build the platform, find the user by e-mail, run ``action(platform, user_id)``; refusals exit 1."""
    from commands.context import CommandError

    platform = _platform(data_dir)
    try:
        action(platform, _user_id(platform, email))
    except CommandError as exc:
        console.print(f"[red]{exc.code}[/]: {exc}")
        raise typer.Exit(1) from exc
    finally:
        platform.close()


Email = Annotated[str, typer.Option(help="The user's e-mail address.")]


def users_reset_password(
    email: Email,
    password: Annotated[str | None, typer.Option(help="New password (default: a random one nobody knows).")] = None,
    data_dir: DataDir = None,
) -> None:
    """Reset a user's password (as an admin would); the user's auth tokens stop working."""
    from commands import users as cmd

    def action(platform: Platform, user_id: int) -> None:
        cmd.set_password(platform.commands, cmd.SetPassword(user_id=user_id, password=password, reason="reset"))
        console.print(f"password of user {user_id} <{email}> reset")

    _run_user_command(data_dir, email, action)


def _set_active(email: str, active: bool, data_dir: Path | None) -> None:
    from commands import users as cmd

    def action(platform: Platform, user_id: int) -> None:
        cmd.change_user(platform.commands, cmd.ChangeUser(user_id=user_id, changes={"active": active}))
        console.print(f"user {user_id} <{email}> {'activated' if active else 'deactivated'}")

    _run_user_command(data_dir, email, action)


def users_deactivate(email: Email, data_dir: DataDir = None) -> None:
    """Deactivate a user: their tokens and API keys stop working."""
    _set_active(email, False, data_dir)


def users_activate(email: Email, data_dir: DataDir = None) -> None:
    """Activate a deactivated user again."""
    _set_active(email, True, data_dir)


def users_create_key(
    email: Email,
    name: Annotated[str, typer.Option(help="What the key is for.")],
    expires_days: Annotated[int | None, typer.Option(min=1, help="Expire after N days (default: never).")] = None,
    data_dir: DataDir = None,
) -> None:
    """Issue a long-lived API key (printed once; only its hash is stored)."""
    from datetime import UTC, datetime, timedelta

    from commands import users as cmd

    expires_at = datetime.now(UTC) + timedelta(days=expires_days) if expires_days else None

    def action(platform: Platform, user_id: int) -> None:
        key_id, key = cmd.issue_api_key(
            platform.commands, cmd.IssueApiKey(user_id=user_id, name=name, expires_at=expires_at)
        )
        console.print(f"API key {key_id} of user {user_id} <{email}> (shown once; send it as Authorization):")
        print(key)

    _run_user_command(data_dir, email, action)


def users_revoke_key(
    email: Email, key_id: Annotated[str, typer.Option("--key-id", help="The key's id.")], data_dir: DataDir = None
) -> None:
    """Revoke an API key: it stops working."""
    from commands import users as cmd

    def action(platform: Platform, user_id: int) -> None:
        cmd.revoke_api_key(platform.commands, cmd.RevokeApiKey(user_id=user_id, key_id=key_id))
        console.print(f"API key {key_id} of user {user_id} <{email}> revoked")

    _run_user_command(data_dir, email, action)


def users_keys(email: Email, data_dir: DataDir = None) -> None:
    """List a user's API keys (ids, names, expiry, revoked; never the keys)."""
    from commands.users import user_keys

    def action(platform: Platform, user_id: int) -> None:
        table = Table("key id", "name", "expires at", "revoked")
        for key_id, (issued, revoked) in user_keys(platform.commands, user_id).items():
            expires = issued.expires_at.isoformat() if issued.expires_at else "never"
            table.add_row(key_id, issued.name, expires, "yes" if revoked else "no")
        console.print(table)

    _run_user_command(data_dir, email, action)


def users_forget(
    email: Email,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Forget a user (crypto-shredding): destroy their data key; their e-mail and name read as [erased]."""
    from commands.personal_data import ForgetUser, forget_user

    if not yes:
        typer.confirm(f"Forget {email} for ever (their personal data becomes unreadable)?", abort=True)

    def action(platform: Platform, user_id: int) -> None:
        forget_user(platform.commands, platform.personal_keys, ForgetUser(user_id=user_id))
        console.print(f"user {user_id} forgotten: personal data erased, history still verifies")

    _run_user_command(data_dir, email, action)
