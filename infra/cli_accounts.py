"""``flexledger accounts``: account commands (today: forget an account's personal data)."""

from __future__ import annotations

from typing import Annotated

import typer

from infra.cli_common import DataDir, console
from infra.cli_common import platform_for as _platform

accounts_app = typer.Typer(help="Manage accounts.")


@accounts_app.command("forget")
def accounts_forget(
    account_id: Annotated[int, typer.Option("--account-id", min=1, help="The account's id.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Forget an account (crypto-shredding): destroy its data key; the locations of its private
    assets (attributes.private: true) read as erased (coordinates null, addresses [erased])."""
    from commands.context import CommandError
    from commands.personal_data import ForgetAccount, forget_account

    if not yes:
        typer.confirm(f"Forget account {account_id} for ever (its private locations become unreadable)?", abort=True)
    platform = _platform(data_dir)
    try:
        forget_account(platform.commands, platform.personal_keys, ForgetAccount(account_id=account_id))
        console.print(f"account {account_id} forgotten: private locations erased, history still verifies")
    except CommandError as exc:
        console.print(f"[red]{exc.code}[/]: {exc}")
        raise typer.Exit(1) from exc
    finally:
        platform.close()
