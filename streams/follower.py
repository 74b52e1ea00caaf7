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
share one read (and one decode) of each batch. It keeps a bounded window of recent events
(bounded in events and in values, as a 10,000-value bulk event weighs a hundred daily posts),
so memory does not grow with history; a follower behind the window reads the store itself.
Followers at the head share the store's "nothing new" too: after a read found nothing, the
store is asked again once a waiter heard of an append (``wait_for_append``: at once for this
process's appends) or ``head_recheck_s`` later, not by each of twenty followers after each append.
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


LARGEST_EVENT_VALUES = 10_000
"""The most values one event holds (``commands.readings.MAX_VALUES_PER_EVENT``)."""


class EventFeed:
    """Batches of the store after a position, shared by the followers (a bounded window).

    The window holds every event with ``after < global_position <= last``, in order: at most
    ``window_events`` events and ``window_values`` values (readings; an event without values
    counts one) beyond the batch just read (when full, the older ones are dropped down to half).
    """

    def __init__(
        self,
        store: EventStore,
        batch_size: int = 2000,
        window_events: int = 20_000,
        window_values: int = 400_000,
        head_recheck_s: float = 0.1,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        """``head_recheck_s`` (seconds): how long a read that found nothing new stands for the
        followers at the head, unless a waiter hears of an append (module docstring)."""
        self.store, self.batch_size = store, batch_size
        self.head_recheck_s, self.monotonic = head_recheck_s, monotonic
        self.window_events, self.window_values = window_events, window_values
        self._lock = threading.Lock()
        self._after: int | None = None  # None: no window yet
        self._events: list[RecordedEvent] = []
        self._positions: list[int] = []
        self._sizes: list[int] = []  # values per event
        self._values = 0  # sum of _sizes
        self._largest = LARGEST_EVENT_VALUES  # values of the largest event of the last read
        self._nothing_after: tuple[int, float] | None = None  # (position, when): a read after it found nothing
        self._heard = 0  # a waiter heard that events up to this position exist

    def read(self, after: int, limit: int) -> list[RecordedEvent]:
        """Up to ``limit`` events with global position > ``after``, in order ([] at the head)."""
        with self._lock:
            if self._after is not None and after < self._after:
                behind = True
            else:
                behind = False
                batch = self._read_window(after, limit)
        if behind:  # outside the lock: the others need not wait for a straggler's read
            return self.store.read_all(after, self._read_limit(limit))
        return batch

    def _read_window(self, after: int, limit: int) -> list[RecordedEvent]:
        last = self._positions[-1] if self._positions else self._after
        if last is None or after > last:  # no window yet, or the caller is ahead of it: start one at ``after``
            self._after, self._events, self._positions, self._sizes, self._values = after, [], [], [], 0
            last = after
        if after == last and not self._known_empty(last):
            fresh = self.store.read_all(last, self._read_limit(max(limit, self.batch_size)))
            self._nothing_after = None if fresh else (last, self.monotonic())
            self._events.extend(fresh)
            self._positions.extend(e.global_position for e in fresh)
            sizes = [_size(e) for e in fresh]
            self._sizes.extend(sizes)
            self._values += sum(sizes)
            self._largest = max(sizes, default=self._largest)
            self._trim(after)
        start = bisect.bisect_right(self._positions, after)
        return self._events[start : start + limit]

    def _trim(self, keep_after: int) -> None:
        """Drop the oldest events down to half the bounds once one is exceeded; never those after
        ``keep_after`` (the batch being handed out)."""
        if len(self._events) <= self.window_events and self._values <= self.window_values:
            return
        keep_from = bisect.bisect_right(self._positions, keep_after)
        drop, dropped_values = 0, 0
        while drop < keep_from and self._over_half(len(self._events) - drop, self._values - dropped_values):
            dropped_values += self._sizes[drop]
            drop += 1
        if drop:
            self._after = self._positions[drop - 1]
            del self._events[:drop], self._positions[:drop], self._sizes[:drop]
            self._values -= dropped_values

    def _known_empty(self, last: int) -> bool:
        """Whether the store was found to hold nothing after ``last`` less than ``head_recheck_s``
        ago, and no waiter has heard of an append since."""
        if self._nothing_after is None or self._nothing_after[0] != last or self._heard > last:
            return False
        return self.monotonic() - self._nothing_after[1] < self.head_recheck_s

    def wait_for_append(self, after: int, timeout_s: float) -> bool:
        """The store's ``wait_for_append``; an append heard of makes the next read at the head ask the store."""
        if not self.store.wait_for_append(after, timeout_s):
            return False
        with self._lock:
            self._heard = max(self._heard, after + 1)
        return True

    def _over_half(self, events: int, values: int) -> bool:
        return events > self.window_events // 2 or values > self.window_values // 2

    def _read_limit(self, limit: int) -> int:
        """Events per store read: fewer when events are large (bulk imports), so one read holds
        about a quarter of ``window_values`` if they are as large as the last read's largest (at
        first: as large as events get), rather than ``limit`` events of 10,000 values (a restart
        behind a bulk import read 2,000 of them: 20 M values in one read and one transaction)."""
        return max(1, min(limit, self.window_values // 4 // self._largest))

    def cached(self) -> int:
        """How many events the window holds (bounded by ``window_events``)."""
        return len(self._events)

    def cached_values(self) -> int:
        """How many values (readings) the window holds (about ``window_values`` at most)."""
        return self._values


def _size(recorded: RecordedEvent) -> int:
    """An event's weight in the window: its values (readings), at least 1."""
    values = recorded.data.get("values")
    return max(1, len(values)) if isinstance(values, list) else 1


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
        """Follow until ``stop``; an error of the store (unreachable, pool exhausted) is logged and
        retried with back-off, never ends the thread (a dead follower is a read model stuck for good)."""
        delay = 0.05
        while not stop.is_set():
            try:
                if self.step(stop) < self.max_records:
                    # at the head when read: ask the store again only once it may hold more (an append
                    # of this process wakes at once; others' are seen within ``idle_wait_s``)
                    self.feed.wait_for_append(self.position, self.idle_wait_s)
                delay = 0.05
            except Exception:  # noqa: BLE001 - logged and retried, the follower keeps following
                self._count_error()
                log.exception("follower of %s failed; retrying in %.2fs", self.processor.name, delay)
                stop.wait(delay)
                delay = min(delay * 2, 5.0)

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
