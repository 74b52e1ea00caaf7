"""Log record values as bytes: a stable JSON encoding of :class:`RecordedEvent` (orjson).

Wire format of an event (version 1), one JSON object with sorted keys::

    {"data": {...}, "event_id": "<uuid>", "format": 1, "global_position": 42,
     "metadata": {"recorded_at": "2024-01-01T00:00:00Z", ...}, "schema_version": 1,
     "stream_id": "sensordata-7", "stream_revision": 3, "type": "SensorDataRecorded"}

* Keys are sorted at every level and there is no whitespace, so the same event always gives
  the same bytes (stable across processes and versions of this module).
* Datetimes are ISO 8601 strings with their offset; ``None`` metadata fields are left out.
* ``format`` is the envelope version; a reader refuses versions it does not know.

Other values (anything orjson can serialise: dicts, lists, strings, numbers) are plain JSON.
The Kafka adapter tells both apart with the ``content-type`` header (:data:`EVENT_CONTENT_TYPE`
or :data:`JSON_CONTENT_TYPE`).
"""

from __future__ import annotations

from typing import Any

import orjson

from domain.events import RecordedEvent

FORMAT_VERSION = 1
EVENT_CONTENT_TYPE = "application/vnd.flexledger.event+json;v=1"
JSON_CONTENT_TYPE = "application/json"
_OPTIONS = orjson.OPT_SORT_KEYS


class SerializationError(ValueError):
    """Bytes that are not a record value this module can read."""


def encode_event(event: RecordedEvent) -> bytes:
    """The stable JSON bytes of an event (see the module docstring for the format)."""
    body = event.model_dump(mode="json", exclude={"metadata"})
    body["metadata"] = event.metadata.to_json()  # None fields left out (data is kept as is)
    body["format"] = FORMAT_VERSION
    return orjson.dumps(body, option=_OPTIONS)


def decode_event(payload: bytes) -> RecordedEvent:
    """The event encoded by :func:`encode_event` (data as stored; upcasting happens on ``decode()``)."""
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise SerializationError(f"not JSON: {exc}") from exc
    if not isinstance(body, dict) or body.pop("format", None) != FORMAT_VERSION:
        raise SerializationError(f"not a flexledger event of format {FORMAT_VERSION}")
    return RecordedEvent.model_validate(body)


def encode_value(value: Any) -> tuple[bytes, str]:
    """(bytes, content type) of a record value: an event, or any JSON-serialisable value."""
    if isinstance(value, RecordedEvent):
        return encode_event(value), EVENT_CONTENT_TYPE
    return orjson.dumps(value, option=_OPTIONS), JSON_CONTENT_TYPE


def decode_value(payload: bytes | None, content_type: str | None) -> Any:
    """The value written by :func:`encode_value`; events also without a content type."""
    if payload is None:
        return None
    if content_type == JSON_CONTENT_TYPE:
        return orjson.loads(payload)
    return decode_event(payload)


__all__ = [
    "EVENT_CONTENT_TYPE",
    "JSON_CONTENT_TYPE",
    "SerializationError",
    "decode_event",
    "decode_value",
    "encode_event",
    "encode_value",
]
