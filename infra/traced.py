"""Telemetry decorators the composition root puts around adapters and processors.

The adapters and processors know nothing of telemetry: :class:`TracedEventStore` opens
``eventstore.append`` and counts appended events, :class:`TracedLog` opens ``relay.publish``
(with Kafka) and rewrites each record's ``traceparent`` header, :class:`TracedProcessor` opens
``processor.<name>`` (and ``readmodel.write`` for projections) and records the lags. Spans and
metrics are described in :mod:`infra.telemetry`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from infra.telemetry import (
    batch_span,
    record_appended,
    record_processor_lag,
    record_projection_lag,
    spans_per_trace,
)
from streams.event_feed import appended_reader


class TracedEventStore:
    """An event store whose appends open ``eventstore.append`` and count appended events."""

    def __init__(self, inner: Any):
        self.inner = inner

    def append(self, stream_id: str, events: Sequence[Any], expected_revision: Any = None) -> Any:
        traceparents = [e.metadata.traceparent for e in events]
        with batch_span("eventstore.append", traceparents, {"stream_id": stream_id, "events": len(events)}):
            if expected_revision is None:
                result = self.inner.append(stream_id, events)
            else:
                result = self.inner.append(stream_id, events, expected_revision)
        record_appended(stream_id, result.appended)
        return result

    def read_appended(self, after_position: int, limit: int) -> Any:
        """The inner store's :func:`~streams.event_feed.appended_reader` read (reads are not traced)."""
        return appended_reader(self.inner)(after_position, limit)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class TracedLog:
    """A log whose ``publish`` opens ``relay.publish`` per trace and rewrites each record's
    ``traceparent`` header to its span (the processors' spans become its children)."""

    def __init__(self, inner: Any):
        self.inner = inner

    def publish(self, records: Sequence[Any]) -> None:
        from dataclasses import replace

        with spans_per_trace("relay.publish", [r.headers.get("traceparent") for r in records]) as traced:
            self.inner.publish([_with_traceparent(replace, r, traced) for r in records])

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _with_traceparent(replace: Any, record: Any, traced: Mapping[str | None, str | None]) -> Any:
    original = record.headers.get("traceparent")
    new = traced.get(original)
    if new is None or new == original:
        return record
    return replace(record, headers={**record.headers, "traceparent": new})


class TracedProcessor:
    """A processor whose batches open ``processor.<name>`` per trace and record its lag.

    ``projection``: also a ``readmodel.write`` span around the write, and the projection lag.
    Everything else (``advance``, ``checkpoint``, ``flush``, ``passes_over``, attributes) is the inner one's.
    """

    def __init__(self, inner: Any, projection: str | None = None):
        self.inner, self.projection_name = inner, projection
        self.name, self.topics = inner.name, inner.topics

    def process(self, partition: str, events: Sequence[Any]) -> int:
        traceparents = [e.metadata.traceparent for e in events]
        with spans_per_trace(f"processor.{self.name}", traceparents):
            if self.projection_name is None:
                checkpoint = self.inner.process(partition, events)
            else:
                attributes = {"projection": self.projection_name, "partition": partition, "events": len(events)}
                with batch_span("readmodel.write", traceparents, attributes):
                    checkpoint = self.inner.process(partition, events)
                record_projection_lag(self.projection_name, events)
        record_processor_lag(self.name, events[-1:])
        return checkpoint

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


__all__ = ["TracedEventStore", "TracedLog", "TracedProcessor"]
