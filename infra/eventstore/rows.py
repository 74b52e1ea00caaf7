"""Rows of the SQL ``events`` table as recorded events (``global_position, event_id, stream_id,
stream_revision, type, schema_version, data, metadata, hash``: the columns the SQL stores read)."""

from __future__ import annotations

import orjson

from domain.events import EventMetadata, RecordedEvent


def row_to_event(row, metadata_of: dict[bytes, EventMetadata] | None = None) -> RecordedEvent:
    """The recorded event of a row (module docstring); ``metadata_of``: metadata already parsed, by its
    stored bytes (the events of one cause often share them), filled as rows come."""
    meta_json = row[7]
    metadata = None if metadata_of is None else metadata_of.get(meta_json)
    if metadata is None:
        metadata = EventMetadata.model_validate(orjson.loads(meta_json))
        if metadata_of is not None:
            metadata_of[meta_json] = metadata
    return RecordedEvent(
        global_position=row[0],
        event_id=row[1],  # the text as stored: pydantic's parsing is cheaper than uuid.UUID's
        stream_id=row[2],
        stream_revision=row[3],
        type=row[4],
        schema_version=row[5],
        data=orjson.loads(row[6]),
        metadata=metadata,
        hash=row[8],
    )


def rows_to_events(rows) -> list[RecordedEvent]:
    """:func:`row_to_event` of each row, parsing each distinct metadata once (it is immutable)."""
    metadata_of: dict[bytes, EventMetadata] = {}
    return [row_to_event(row, metadata_of) for row in rows]
