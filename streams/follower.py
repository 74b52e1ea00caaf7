"""Embedded processors follow the event store, each from its own checkpoint.

No relay and no log in the embedded deployment: every processor reads the store in global
order after its own checkpoint (partition ``*``), applies the events of its topics, and moves
its checkpoint over the events that are not its own when it has been idle for ``idle_save_s``,
and while busy only every ``busy_save_s`` or ``busy_save_events`` events (a save per append
would contend for SQLite's write lock with the projections the API waits on). So a restart
hands no already-processed event to a processor (foreign events read again are skipped
unseen), an idle processor's checkpoint reaches the head, and ``flexledger projections status``
shows no lag once the system is idle. Processors that save lazily (``flush()``) are flushed at
the same moments. A follower moved over others' events by the feed (below) counts as busy.

A processor may also pass over events of its own topics that it would ignore (its forecaster's
own forecasts, a projection's events of other types): an optional ``passes_over(recorded) ->
bool``, told from the stored ``type`` and ``data`` only (no decoding; the same answer on every
read, so a restart passes over the same events). The follower treats those as events of other
topics: not handed over, its position moved over them, its checkpoint moved lazily as above (no
write transaction per batch of them). The processor itself still ignores them when handed them
(the Kafka deployment's :class:`~streams.runner.ProcessorLoop` hands it every event).

One :class:`~streams.event_feed.EventFeed` reads the store for all followers: followers at about
the same place share one read (and one decode) of each batch. It keeps a bounded window of
recent events (bounded in events and in values, as a 10,000-value bulk event weighs a hundred
daily posts), so memory does not grow with history; a follower behind the window reads the
store itself. Each event's topic is found once, by the feed; a follower is handed the events of
its topics without looking at the others. The feed's own thread (:meth:`EventFeed.run`) is the
one waiter on the store: it reads each append (at once for this process's appends, within
``head_recheck_s`` for other processes') and wakes only the followers of its topics; a follower
at the head with nothing in it is moved over it (its progress: read-your-writes waiters see it
at once) without being woken. A follower also wakes every ``idle_save_s`` (its idle save), or,
while the feed's thread does not run, every ``idle_wait_s`` to ask the store itself.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from domain.events import RecordedEvent
from domain.ports.checkpoints import ALL_PARTITIONS
from streams.event_feed import EventFeed
from streams.runner import Processor, Progress, apply_until_done, flush

log = logging.getLogger(__name__)


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
        self._passes_over: Callable[[RecordedEvent], bool] | None = getattr(processor, "passes_over", None)
        self.idle_save_s, self.busy_save_s, self.busy_save_events = idle_save_s, busy_save_s, busy_save_events
        self.idle_wait_s, self.monotonic = idle_wait_s, monotonic
        self.errors = 0
        self.applied = 0
        """Events handed to the processor since start (a restart after idle hands over none)."""
        self._saved = self.position  # the checkpoint known durable (applied batch or advance)
        self._saved_at = self._batch_at = monotonic()
        self._read_since_save = 0  # events read (ours or not) since the last save
        self._looked_at = self.position  # the position at the last step (the feed may move it in between)
        self._subscriber = feed.subscribe(self.topics, progress=self)

    def run(self, stop: threading.Event) -> None:
        """Follow until ``stop``; an error of the store (unreachable, pool exhausted) is logged and
        retried with back-off, never ends the thread (a dead follower is a read model stuck for good)."""
        delay = 0.05
        while not stop.is_set():
            try:
                if self.step(stop) < self.max_records:
                    # at the head when read: woken by events of this processor's topics (the feed's thread
                    # moves it over the others), else to save its checkpoint when idle (module docstring)
                    timeout_s = self.idle_save_s if self.feed.running.is_set() else self.idle_wait_s
                    self.feed.wait_for_topics(self._subscriber, self.position, timeout_s)
                delay = 0.05
            except Exception:  # noqa: BLE001 - logged and retried, the follower keeps following
                self._count_error()
                log.exception("follower of %s failed; retrying in %.2fs", self.processor.name, delay)
                stop.wait(delay)
                delay = min(delay * 2, 5.0)

    def step(self, stop: threading.Event) -> int:
        """Apply the next batch; returns how many events were read (0: none, then the checkpoint
        may be brought up)."""
        batch = self.feed.read_topics(self.position, self.max_records, self.topics)
        now = self.monotonic()
        handed = self._to_hand_over(batch.mine)
        if handed:
            if apply_until_done(self.processor, {ALL_PARTITIONS: handed}, stop, self._count_error) is None:
                return batch.count  # stopped before the batch was applied
            self.applied += len(handed)
            self._saved = handed[-1].global_position
        if batch.count:
            self._advance(batch.last)
            self._read_since_save += batch.count
        if self.position > self._looked_at:  # read, or moved over others' events by the feed: busy
            self._looked_at, self._batch_at = self.position, now
            if self._read_since_save >= self.busy_save_events or now - self._saved_at >= self.busy_save_s:
                self._save_position()
        elif now - max(self._batch_at, self._saved_at) >= self.idle_save_s:  # idle for a while
            self._save_position()
        return batch.count

    def _to_hand_over(self, mine: list[RecordedEvent]) -> list[RecordedEvent]:
        """The events of the processor's topics that it does not pass over (module docstring), in order."""
        if self._passes_over is None or not mine:
            return mine
        passes_over = self._passes_over
        return [recorded for recorded in mine if not passes_over(recorded)]

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
