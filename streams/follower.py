"""Embedded processors follow the event store, each from its own checkpoint.

No relay and no log in the embedded deployment: every processor reads the store in global
order after its own checkpoint (partition ``*``), applies the events of its topics, and moves
its checkpoint over the events that are not its own when it has been idle for ``idle_save_s``,
and while busy only every ``busy_save_s`` or ``busy_save_events`` events (a save per append
would contend for SQLite's write lock with the projections the API waits on). So a restart
hands no already-processed event to a processor (foreign events read again are skipped
unseen), an idle processor's checkpoint reaches the head, and ``flexledger projections status``
shows no lag once the system is idle. Processors that save lazily (``flush()``) are flushed at
the same moments.

One :class:`EventFeed` reads the store for all followers: followers at about the same place
share one read (and one decode) of each batch. It keeps a bounded window of recent events, so
memory does not grow with history; a follower behind the window reads the store itself.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections.abc import Callable

from domain.events import RecordedEvent
from domain.ports.checkpoints import ALL_PARTITIONS
from domain.ports.event_store import EventStore
from streams.runner import Processor, Progress, apply_until_done, flush
from streams.topics import topic_of

log = logging.getLogger(__name__)


class EventFeed:
    """Batches of the store after a position, shared by the followers (a bounded window).

    The window holds every event with ``after < global_position <= last``, in order, at most
    ``window_events`` of them (the older half is dropped when it is full).
    """

    def __init__(self, store: EventStore, batch_size: int = 2000, window_events: int = 20_000):
        self.store, self.batch_size, self.window_events = store, batch_size, window_events
        self._lock = threading.Lock()
        self._after: int | None = None  # None: no window yet
        self._events: list[RecordedEvent] = []
        self._positions: list[int] = []

    def read(self, after: int, limit: int) -> list[RecordedEvent]:
        """Up to ``limit`` events with global position > ``after``, in order ([] at the head)."""
        with self._lock:
            if self._after is not None and after < self._after:
                behind = True
            else:
                behind = False
                batch = self._read_window(after, limit)
        if behind:  # outside the lock: the others need not wait for a straggler's read
            return self.store.read_all(after, limit)
        return batch

    def _read_window(self, after: int, limit: int) -> list[RecordedEvent]:
        last = self._positions[-1] if self._positions else self._after
        if last is None or after > last:  # no window yet, or the caller is ahead of it: start one at ``after``
            self._after, self._events, self._positions, last = after, [], [], after
        if after == last:
            fresh = self.store.read_all(last, max(limit, self.batch_size))
            self._events.extend(fresh)
            self._positions.extend(e.global_position for e in fresh)
            self._trim()
        start = bisect.bisect_right(self._positions, after)
        return self._events[start : start + limit]

    def _trim(self) -> None:
        excess = len(self._events) - self.window_events
        if excess > 0:
            drop = excess + self.window_events // 2
            self._after = self._positions[drop - 1]
            del self._events[:drop], self._positions[:drop]

    def wait_for_append(self, after: int, timeout_s: float) -> bool:
        return self.store.wait_for_append(after, timeout_s)

    def cached(self) -> int:
        """How many events the window holds (bounded by ``window_events``)."""
        return len(self._events)


class StoreFollower(Progress):
    """Drives one processor from the store (embedded deployment); tracks progress for waiters.

    ``monotonic`` (seconds) paces the checkpoint moves over other processors' events (module
    docstring: ``idle_save_s``, ``busy_save_s``, ``busy_save_events``).
    """

    def __init__(
        self,
        processor: Processor,
        feed: EventFeed,
        max_records: int = 2000,
        idle_save_s: float = 1.0,
        busy_save_s: float = 30.0,
        busy_save_events: int = 10_000,
        idle_wait_s: float = 0.2,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        super().__init__(processor.checkpoint())
        self.processor, self.feed, self.max_records = processor, feed, max_records
        self.topics = frozenset(processor.topics)
        self.idle_save_s, self.busy_save_s, self.busy_save_events = idle_save_s, busy_save_s, busy_save_events
        self.idle_wait_s, self.monotonic = idle_wait_s, monotonic
        self.errors = 0
        self.applied = 0
        """Events handed to the processor since start (a restart after idle hands over none)."""
        self._saved = self.position  # the checkpoint known durable (applied batch or advance)
        self._saved_at = self._batch_at = monotonic()
        self._read_since_save = 0  # events read (ours or not) since the last save

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            if self.step(stop) < self.max_records:
                # at the head when read: ask the store again only once it may hold more (an append
                # of this process wakes at once; others' are seen within ``idle_wait_s``)
                self.feed.wait_for_append(self.position, self.idle_wait_s)

    def step(self, stop: threading.Event) -> int:
        """Apply the next batch; returns how many events were read (0: none, then the checkpoint
        may be brought up)."""
        batch = self.feed.read(self.position, self.max_records)
        now = self.monotonic()
        if not batch:
            if now - max(self._batch_at, self._saved_at) >= self.idle_save_s:  # idle for a while
                self._save_position()
            return 0
        mine = [e for e in batch if topic_of(e) in self.topics]
        if mine:
            if apply_until_done(self.processor, {ALL_PARTITIONS: mine}, stop, self._count_error) is None:
                return len(batch)  # stopped before the batch was applied
            self.applied += len(mine)
            self._saved = mine[-1].global_position
        self._advance(batch[-1].global_position)
        self._batch_at, self._read_since_save = now, self._read_since_save + len(batch)
        if self._read_since_save >= self.busy_save_events or now - self._saved_at >= self.busy_save_s:
            self._save_position()
        return len(batch)

    def _save_position(self) -> None:
        """Move the durable checkpoint over the events of other processors read since the last save,
        and let a processor that saves lazily save now."""
        self._saved_at, self._read_since_save = self.monotonic(), 0
        if self.position > self._saved:
            try:
                self.processor.advance(ALL_PARTITIONS, self.position)
                self._saved = self.position
            except Exception:  # noqa: BLE001 - logged; the next save tries again, nothing is lost
                log.exception("processor %s: moving its checkpoint failed", self.processor.name)
        flush(self.processor)

    def _count_error(self) -> None:
        self.errors += 1


__all__ = ["EventFeed", "StoreFollower"]
