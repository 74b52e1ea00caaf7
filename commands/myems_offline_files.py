"""Handlers of MyEMS offline meter files (issue 14): upload, process (also ``restore``), delete.

Processing stores each meter's daily energy through the readings import
(:func:`commands.import_readings.import_rows`), its event ids derived from the file's SHA-256 and
the meter, so processing the same file again (``restore``) stores nothing twice.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Mapping
from datetime import datetime, time
from functools import reduce
from zoneinfo import ZoneInfo

from commands.context import CommandContext, CommandError
from commands.import_readings import import_rows
from domain import myems_offline_files as of
from domain.ports.event_store import NO_STREAM

SOURCE = "myems-offline-meter-file"


def _evolve(state: of.MyEmsOfflineMeterFileUploaded | None, event) -> of.MyEmsOfflineMeterFileUploaded | None:
    if isinstance(event, of.MyEmsOfflineMeterFileUploaded):
        return event
    return None if isinstance(event, of.MyEmsOfflineMeterFileDeleted) else state


def _load(ctx: CommandContext, file_id: int) -> tuple[of.MyEmsOfflineMeterFileUploaded, int]:
    events, revision = ctx.load(of.offline_file_stream(file_id))
    state = reduce(_evolve, events, None)
    if state is None or revision is None:
        raise CommandError("API.OFFLINE_METER_FILE_NOT_FOUND", f"no offline meter file {file_id}", "id")
    return state, revision


def stored_file(ctx: CommandContext, file_id: int) -> tuple[str, bytes]:
    """The stored file's name and bytes (``API.OFFLINE_METER_FILE_NOT_FOUND`` once deleted)."""
    uploaded, _ = _load(ctx, file_id)
    return uploaded.file_name, base64.b64decode(uploaded.content_b64)


def upload(ctx: CommandContext, account_id: int, file_name: str, content: bytes) -> int:
    """Store the file (already parsed by the caller: only readable files are kept); its new id."""
    file_id = ctx.reserve_id("myemsofflinefile")
    event = of.MyEmsOfflineMeterFileUploaded(
        file_id=file_id,
        account_id=account_id,
        uuid=uuid.uuid4(),
        file_name=file_name,
        content_b64=base64.b64encode(content).decode(),
        sha256=hashlib.sha256(content).hexdigest(),
    )
    ctx.append(of.offline_file_stream(file_id), [event], NO_STREAM)
    return file_id


def process(ctx: CommandContext, file_id: int, meters: Mapping[str, tuple[int, str]]) -> int:
    """Store the file's readings: ``meters`` maps each header cell to (sensor id, its time zone).
    Records the outcome (``done`` with the readings, or ``error`` with why) and returns the
    readings count; a header cell missing from ``meters`` is an error of the file."""
    uploaded, revision = _load(ctx, file_id)
    content = base64.b64decode(uploaded.content_b64)
    try:
        parsed = of.parse_offline_file(uploaded.file_name, content)
        unknown = [name for name in parsed.meters if name not in meters]
        if unknown:
            raise of.OfflineFileError(f"no offline meter {unknown[0]!r} in the account", "row 1")
    except of.OfflineFileError as exc:
        event = of.MyEmsOfflineMeterFileProcessed(file_id=file_id, status="error", message=str(exc))
        ctx.append(of.offline_file_stream(file_id), [event], revision)
        return 0
    total = 0
    for column, name in enumerate(parsed.meters):
        sensor_id, timezone = meters[name]
        rows = [
            (datetime.combine(day, time(0), ZoneInfo(timezone)), values[column])
            for day, values in parsed.days
            if values[column] is not None
        ]
        total += import_rows(ctx, sensor_id, rows, f"{uploaded.sha256}:{name}", "kWh", SOURCE).read
    event = of.MyEmsOfflineMeterFileProcessed(file_id=file_id, status="done", readings=total)
    ctx.append(of.offline_file_stream(file_id), [event], revision)
    return total


def delete(ctx: CommandContext, file_id: int) -> None:
    _, revision = _load(ctx, file_id)
    ctx.append(of.offline_file_stream(file_id), [of.MyEmsOfflineMeterFileDeleted(file_id=file_id)], revision)
