"""``flexledger audit export`` / ``import``: JSON Lines files of :mod:`domain.audit_export`.

Export reads every event up to the head seen at the start (global order; the hash chain needs
them all) and writes those matching the filter, then a checkpoint signed with the platform key
at the last event read. Import takes a *full* export into an *empty* store: it checks each
line's hash and the chain, the checkpoint's signature and head hash, appends the events with
their ids (consecutive events of one stream in one append) and checks the new store's chain
reaches the same head hash at the same position.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson

from domain.audit_chain import GENESIS, verify_chain
from domain.audit_checkpoints import checkpoint_signature_ok, sign_checkpoint
from domain.audit_export import ExportError, ExportFilter, as_new_event, export_lines, verify_lines
from domain.events import RecordedEvent
from domain.personal_data import stored_form, subject_of
from domain.ports.event_store import ANY

KEYS_LINE = "personal_data_keys"

Progress = Callable[[int, int], None]
"""(position done, head position) -> None."""


def export_to(
    platform, path: Path, flt: ExportFilter, progress: Progress = lambda done, head: None, with_keys: bool = False
) -> dict:
    """Write the export; returns its checkpoint (``{"position", "head_hash", ...}``) and the count.

    ``with_keys``: also the personal-data keys of the exported users and accounts (a line before the checkpoint)."""
    head, written, last, subjects = platform.store.head_position(), 0, (0, GENESIS), set()
    with path.open("wb") as out:
        for position, line in export_lines(platform.store, flt):
            if position > head:
                break
            if line is not None:
                out.write(orjson.dumps(line) + b"\n")
                written += 1
                subjects.add(subject_of(line["type"], line["data"]))
            last = (position, line["hash"] if line else _stored_hash(platform, position))
            if position % 1000 == 0:
                progress(position, head)
        if with_keys:
            keys = platform.personal_keys.keys_for(subjects - {None})
            out.write(orjson.dumps({KEYS_LINE: {s: base64.b64encode(k).decode() for s, k in keys.items()}}) + b"\n")
        checkpoint = sign_checkpoint(platform.audit_signing_key(), last[0], last[1])
        out.write(orjson.dumps({"checkpoint": checkpoint}) + b"\n")
    progress(head, head)
    return {"checkpoint": checkpoint, "events": written}


def _stored_hash(platform, position: int) -> str:
    found = stored_form(platform.store).read_all(position - 1, 1)
    return found[0].hash if found and found[0].global_position == position else GENESIS


def _read(path: Path) -> tuple[list[dict], dict, dict[str, bytes]]:
    lines = [orjson.loads(raw) for raw in path.read_bytes().splitlines() if raw.strip()]
    if not lines or "checkpoint" not in lines[-1]:
        raise ExportError(0, "the file does not end with a checkpoint (truncated?)")
    keys = lines.pop(-2)[KEYS_LINE] if len(lines) > 1 and KEYS_LINE in lines[-2] else {}
    return lines[:-1], lines[-1]["checkpoint"], {s: base64.b64decode(k) for s, k in keys.items()}


def _runs(events: Iterator[RecordedEvent]) -> Iterator[list[RecordedEvent]]:
    """Consecutive events of the same stream, grouped."""
    run: list[RecordedEvent] = []
    for event in events:
        if run and run[-1].stream_id != event.stream_id:
            yield run
            run = []
        run.append(event)
    if run:
        yield run


def import_from(platform, path: Path, progress: Progress = lambda done, head: None) -> dict:
    """Import a full export into the platform's empty store; raises :class:`ExportError`."""
    store = stored_form(platform.store)  # events go in as stored (personal fields stay sealed)
    if store.head_position() != 0:
        raise ExportError(0, "the target event store is not empty")
    lines, checkpoint, keys = _read(path)
    if not checkpoint_signature_ok(checkpoint):
        raise ExportError(0, "the checkpoint's signature is invalid")
    last = lines[-1]["position"] if lines else 0
    if last != checkpoint["position"] or (lines and lines[-1]["hash"] != checkpoint["head_hash"]):
        raise ExportError(last, "the last event does not match the checkpoint (lines missing at the end?)")
    for run in _runs(verify_lines(lines, full=True)):
        result = store.append(run[0].stream_id, [as_new_event(e) for e in run], ANY)
        if result.global_position != run[-1].global_position:
            raise ExportError(run[-1].global_position, f"stored at position {result.global_position} instead")
        progress(run[-1].global_position, last)
    for subject, key in keys.items():
        platform.personal_keys.import_key(subject, key)
    report = verify_chain(store)
    if not report.ok or report.head_hash != checkpoint["head_hash"]:
        raise ExportError(report.head_position, "the imported chain differs from the checkpoint")
    return {"events": report.checked, "head_hash": report.head_hash}
