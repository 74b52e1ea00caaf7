"""``flexledger audit``: verify the hash chain, sign checkpoints, export and import history."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import Progress

from infra.cli_common import DataDir, console
from infra.cli_common import platform_for as _platform

if TYPE_CHECKING:
    from infra.bootstrap import Platform


def register(audit_app: typer.Typer) -> None:
    """Add the audit commands to ``audit_app``."""
    audit_app.command("checkpoint")(audit_checkpoint)
    audit_app.command("verify")(audit_verify)
    audit_app.command("export")(audit_export)
    audit_app.command("import")(audit_import)


def audit_checkpoint(
    out: Annotated[Path | None, typer.Option(help="Append the checkpoint (one JSON line) to this file.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Sign the current head hash with the platform key (print it, or append it to --out)."""
    import json

    from domain.audit_checkpoints import make_checkpoint

    platform = _platform(data_dir)
    try:
        checkpoint = make_checkpoint(platform.store, platform.audit_signing_key())
    finally:
        platform.close()
    line = json.dumps(checkpoint)
    if out is None:
        console.print_json(line)
        return
    with out.open("a") as file:
        file.write(line + "\n")
    console.print(f"checkpoint at position {checkpoint['position']} appended to {out}")


def _verify_checkpoints(platform: Platform, path: Path) -> bool:
    import json

    from domain.audit_checkpoints import verify_checkpoint

    good = True
    for line in path.read_text().splitlines():
        if line.strip():
            ok, reason = verify_checkpoint(platform.store, json.loads(line))
            console.print(f"checkpoint: {'OK' if ok else 'FAILED'}: {reason}")
            good = good and ok
    return good


def audit_verify(
    checkpoints: Annotated[
        Path | None, typer.Option(exists=True, help="Also check these checkpoints (JSON lines).")
    ] = None,
    stream: Annotated[str | None, typer.Option(help="Verify only this stream's events against the chain.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Recompute the events' hash chain; exit 1 and show the first broken link if any."""
    from domain.audit_chain import verify_chain, verify_stream

    platform = _platform(data_dir)
    try:
        if stream is not None and platform.store.stream_revision(stream) is None:
            console.print(f"[red]UNKNOWN_STREAM[/]: no stream {stream!r}")
            raise typer.Exit(1)
        report = verify_stream(platform.store, stream) if stream else verify_chain(platform.store)
        checkpoints_ok = _verify_checkpoints(platform, checkpoints) if checkpoints else True
    finally:
        platform.close()
    if report.ok:
        scope = f"stream {stream}: " if stream else ""
        console.print(
            f"OK: {scope}{report.checked} events, head position {report.head_position}, head hash {report.head_hash}"
        )
    else:
        broken = report.broken
        console.print(
            f"BROKEN at position {broken['position']} (event {broken['event_id']}): {broken['reason']}; "
            f"expected {broken['expected']}, found {broken['found']} ({report.checked} events verified before it)"
        )
    if not (report.ok and checkpoints_ok):
        raise typer.Exit(1)


def _aware_time(name: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"not an ISO 8601 time: {value!r}", param_hint=name) from exc
    if parsed.tzinfo is None:
        raise typer.BadParameter("must be timezone-aware (add an offset such as Z or +01:00)", param_hint=name)
    return parsed


def audit_export(
    out: Annotated[Path, typer.Option(help="JSON Lines file to write.")],
    stream: Annotated[list[str] | None, typer.Option(help="Stream id prefix (repeat); default: all.")] = None,
    since: Annotated[str | None, typer.Option(help="Recorded at or after (ISO 8601, timezone-aware).")] = None,
    until: Annotated[str | None, typer.Option(help="Recorded before (ISO 8601, timezone-aware).")] = None,
    with_keys: Annotated[
        bool, typer.Option("--with-keys", help="Include the exported users' and accounts' keys (moving a platform).")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Export events with their hashes and a final signed checkpoint (see domain/audit_export.py)."""
    from domain.audit_export import ExportFilter
    from infra.audit_files import export_to

    times = [_aware_time(name, value) for name, value in (("--since", since), ("--until", until))]
    platform = _platform(data_dir)
    try:
        with Progress(console=console) as progress:
            task = progress.add_task("export", total=platform.store.head_position())
            done = export_to(
                platform, out, ExportFilter(tuple(stream or ()), *times),
                lambda position, head: progress.update(task, completed=position, total=head), with_keys,
            )  # fmt: skip
    finally:
        platform.close()
    console.print(f"{done['events']} events exported to {out}, checkpoint at position {done['checkpoint']['position']}")


def audit_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A full export (JSON Lines).")],
    data_dir: DataDir = None,
) -> None:
    """Import a full export into an empty store, verifying every hash and the checkpoint."""
    from domain.audit_export import ExportError
    from infra.audit_files import import_from

    platform = _platform(data_dir)
    try:
        with Progress(console=console) as progress:
            task = progress.add_task("import", total=None)
            done = import_from(
                platform, file, lambda position, head: progress.update(task, completed=position, total=head)
            )
    except ExportError as error:
        console.print(f"REFUSED: {error}")
        raise typer.Exit(1) from error
    finally:
        platform.close()
    console.print(f"{done['events']} events imported and verified; head hash {done['head_hash']}")
    console.print("run `flexledger projections rebuild NAME` (or start the server) to build the read models")
