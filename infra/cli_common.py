"""What the CLI's command modules share: the consoles, the ``--data-dir`` option, the platform,
and which errors are expected (one line, exit 1) rather than bugs (a traceback)."""

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
error_console = Console(stderr=True)

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Data folder (FLEXLEDGER_HOME).")]


def platform_for(data_dir: Path | None) -> Platform:
    """The platform of ``data_dir`` (sets ``FLEXLEDGER_HOME``), else of the settings' home."""
    from infra.bootstrap import build_platform  # heavy: only for the commands that need it

    if data_dir is not None:
        os.environ["FLEXLEDGER_HOME"] = str(data_dir)
    return build_platform(Settings())


def expected_errors() -> tuple[type[Exception], ...]:
    """Errors a user can act on: shown as one line, exit status 1."""
    from pydantic import ValidationError

    from commands.context import CommandError
    from domain.readings_csv import ReadingsCsvError
    from domain.units import UnitError

    return CommandError, ReadingsCsvError, UnitError, ValidationError


def one_line(error: Exception) -> str:
    """The message of an expected error, on one line (pydantic: ``field: problem``)."""
    errors = getattr(error, "errors", None)
    if callable(errors) and not hasattr(error, "code"):
        return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors())
    return " ".join(str(error).split())
