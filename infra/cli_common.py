"""What the CLI's command modules share: the console, the ``--data-dir`` option, the platform."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from infra.settings import Settings

if TYPE_CHECKING:
    from infra.bootstrap import Platform

console = Console()

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Data folder (FLEXLEDGER_HOME).")]


def platform_for(data_dir: Path | None) -> Platform:
    """The platform of ``data_dir`` (sets ``FLEXLEDGER_HOME``), else of the settings' home."""
    from infra.bootstrap import build_platform  # heavy: only for the commands that need it

    if data_dir is not None:
        os.environ["FLEXLEDGER_HOME"] = str(data_dir)
    return build_platform(Settings())
