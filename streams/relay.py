"""Relay: moves events from the event store's global order onto the log, keyed by stream id.

Used with Kafka only (the embedded processors follow the store: :mod:`streams.follower`).

Each event is published to its category topic and to the all-events topic. Publishing is
at-least-once (the checkpoint is saved after the log acknowledged the batch); processors make
the effect exactly-once by skipping positions at or below their own checkpoints. Per-stream
order is preserved: events are published in global order, and one key maps to one partition.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from domain.events import RecordedEvent
from domain.ports.event_store import EventStore, subscribe
from domain.ports.log import TOPIC_ALL, Log, LogRecord
from streams.topics import topic_of

log = logging.getLogger(__name__)


def records_for(event: RecordedEvent, traceparent: str | None = None) -> list[LogRecord]:
    """The log records of one event: its category topic and the all-events topic.

    Header ``traceparent``: the given one (the relay's span), else the event's metadata.
    """
    headers = {"event_type": event.type, "global_position": str(event.global_position)}
    traceparent = traceparent or event.metadata.traceparent
    if traceparent:
        headers["traceparent"] = traceparent
    return [
        LogRecord(topic=topic_of(event), key=event.stream_id, value=event, headers=headers),
        LogRecord(topic=TOPIC_ALL, key=event.stream_id, value=event, headers=headers),
    ]


class Relay:
    """Follows the event store from ``start_position`` and publishes to the log."""

    def __init__(
        self,
        store: EventStore,
        log_: Log,
        start_position: int,
        save_checkpoint: Callable[[int], None] | None = None,
        batch_size: int = 2000,
    ):
        self.store, self.log = store, log_
        self.position = start_position
        self.save_checkpoint = save_checkpoint
        self.batch_size = batch_size
        self.published = threading.Condition()

    def run(self, stop: threading.Event) -> None:
        """Publish until ``stop`` is set."""
        for batch in subscribe(self.store, self.position, self.batch_size, stop=stop, idle_timeout_s=0.2):
            self.publish(batch)

    def publish(self, batch: list[RecordedEvent]) -> None:
        self.log.publish([r for e in batch for r in records_for(e)])
        if self.save_checkpoint:
            self.save_checkpoint(batch[-1].global_position)
        with self.published:
            self.position = batch[-1].global_position
            self.published.notify_all()
