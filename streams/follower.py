"""Embedded processors follow the event store, each from its own checkpoint.

No relay and no log in the embedded deployment: every processor reads the store in global
order after its own checkpoint (partition ``*``), applies the events of its topics, and moves
its checkpoint over the events that are not its own, at most once per ``advance_interval_s``
(busy or idle: a save per append would contend for SQLite's write lock with the projections
the API waits on). So a restart replays nothing already processed (at most the last
interval's foreign events are read again, and skipped), an idle processor's checkpoint reaches
the head within an interval, and ``flexledger projections status`` shows no lag once the
system is idle. Processors that save lazily (``flush()``) are flushed on the same pace.

One :class:`EventFeed` reads the store for all followers: followers at about the same place
share one read (and one decode) of each batch. It keeps a bounded window of recent events, so
memory does not grow with history; a follower behind the window reads the store itself.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
import zlib
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

    ``monotonic`` (seconds) paces the checkpoint moves over other processors' events.
    """

    def __init__(
        self,
        processor: Processor,
        feed: EventFeed,
        max_records: int = 2000,
        advance_interval_s: float = 1.0,
        idle_wait_s: float = 0.2,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        super().__init__(processor.checkpoint())
        self.processor, self.feed, self.max_records = processor, feed, max_records
        self.topics = frozenset(processor.topics)
        self.advance_interval_s, self.idle_wait_s, self.monotonic = advance_interval_s, idle_wait_s, monotonic
        self.errors = 0
        self.applied = 0
        """Events handed to the processor since start (a restart after idle hands over none)."""
        self._saved = self.position  # the checkpoint known durable (applied batch or advance)
        # followers started together save at different moments of the interval, not in one burst
        self._advanced_at = monotonic() - advance_interval_s * (zlib.crc32(processor.name.encode()) % 997) / 997

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            if not self.step(stop):
                self.feed.wait_for_append(self.position, self.idle_wait_s)

    def step(self, stop: threading.Event) -> bool:
        """Apply the next batch; False when there was none (then the checkpoint is brought up)."""
        batch = self.feed.read(self.position, self.max_records)
        if not batch:
            if self._interval_over():  # idle: saved within one interval, not after every append
                self._save_position()
            return False
        mine = [e for e in batch if topic_of(e) in self.topics]
        if mine:
            if apply_until_done(self.processor, {ALL_PARTITIONS: mine}, stop, self._count_error) is None:
                return True  # stopped before the batch was applied
            self.applied += len(mine)
            self._saved = mine[-1].global_position
        self._advance(batch[-1].global_position)
        if self._interval_over():
            self._save_position()
        return True

    def _interval_over(self) -> bool:
        return self.monotonic() - self._advanced_at >= self.advance_interval_s

    def _save_position(self) -> None:
        """Move the durable checkpoint over the events of other processors read since the last save,
        and let a processor that saves lazily save now."""
        self._advanced_at = self.monotonic()
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
