"""The followers' shared read of the event store: :class:`EventFeed` (see :mod:`streams.follower`)."""

from __future__ import annotations

import bisect
import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import NamedTuple

from domain.events import RecordedEvent
from domain.ports.event_store import EventStore
from streams.append_watch import Seen, StoreWatch
from streams.runner import Progress
from streams.topics import topic_of

log = logging.getLogger(__name__)


LARGEST_EVENT_VALUES = 10_000
"""The most values one event holds (``commands.readings.MAX_VALUES_PER_EVENT``)."""


class FeedBatch(NamedTuple):
    """What a follower gets from the feed: ``count`` events read after its position, up to global
    position ``last``, of which ``mine`` are of its topics (in order)."""

    count: int
    last: int
    mine: list[RecordedEvent]


class FeedSubscriber:
    """A follower or watcher of the feed: woken when events of its ``topics`` arrive; a follower
    (``progress``) at the head is moved over the others without being woken."""

    def __init__(self, topics: frozenset[str], progress: Progress | None = None):
        self.topics, self.progress = topics, progress
        self.woken = threading.Event()


class EventFeed:
    """Batches of the store after a position, shared by the followers (a bounded window).

    The window holds every event with ``after < global_position <= last``, in order: at most
    ``window_events`` events and ``window_values`` values (readings; an event without values
    counts one) beyond the batch just read (when full, the older ones are dropped down to half).
    Each event's topic is found once, when the window takes it: the window keeps the events of
    each topic apart, and the last position of each topic since ``_classified_from`` (every event
    after it has been classified), so a follower gets its own events without looking at others'.

    :meth:`run` (a thread of its own) is the one waiter on the store: it reads each append into
    the window, wakes the subscribers of its topics and moves the followers at the head that
    have nothing in it over it (their progress; their checkpoints follow lazily, as for events
    read). Without it, followers at the head ask the store themselves (at most once per
    ``head_recheck_s`` for all of them).
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
        followers at the head; with :meth:`run`, how often it asks the store without having heard
        of an append (another process's)."""
        self.store, self.batch_size = store, batch_size
        self._read_store = appended_reader(store)
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
        self._by_topic: dict[str, tuple[list[int], list[RecordedEvent]]] = {}  # the window's events per topic
        self._last_of_topic: dict[str, int] = {}
        self._classified_from = 0
        self._subscribers: list[FeedSubscriber] = []
        self.running = threading.Event()
        """Set while :meth:`run` reads the appends (followers at the head then never ask the store)."""

    def subscribe(self, topics: Iterable[str], progress: Progress | None = None) -> FeedSubscriber:
        """Be woken by events of ``topics``; ``progress``: a follower's, moved over events not of its topics."""
        subscriber = FeedSubscriber(frozenset(topics), progress)
        with self._lock:
            self._subscribers.append(subscriber)
        return subscriber

    def watch(self, topics: Iterable[str]) -> FeedWatch:
        """An :class:`AppendWatch` of ``topics`` on this feed."""
        return FeedWatch(self, self.subscribe(topics))

    def read_topics(self, after: int, limit: int, topics: frozenset[str]) -> FeedBatch:
        """Up to ``limit`` events with global position > ``after``, in order (none at the head), of
        which only those of ``topics`` are handed over (the others are counted)."""
        with self._lock:
            if self._after is None or after >= self._after:
                start, end = self._read_window(after, limit)
                if start == end:
                    return FeedBatch(0, after, [])
                last = self._positions[end - 1]
                return FeedBatch(end - start, last, self._of_topics(after, last, topics))
        batch = self._read_store(after, self._read_limit(limit))  # behind the window: outside the lock
        mine = [e for e in batch if topic_of(e) in topics]
        return FeedBatch(len(batch), batch[-1].global_position if batch else after, mine)

    def _of_topics(self, after: int, last: int, topics: frozenset[str]) -> list[RecordedEvent]:
        parts = []
        for topic in topics:
            positions, events = self._by_topic.get(topic, ((), ()))
            first = bisect.bisect_right(positions, after)
            if first < len(positions) and positions[first] <= last:
                parts.append(events[first : bisect.bisect_right(positions, last)])
        if len(parts) == 1:
            return parts[0]
        return sorted(itertools.chain.from_iterable(parts), key=_position)

    def _read_window(self, after: int, limit: int) -> tuple[int, int]:
        """The window's slice after ``after`` (at most ``limit`` events), read from the store first
        when ``after`` is at the window's end and no :meth:`run` reads for the followers."""
        last = self._last()
        if last is None or after > last:  # no window yet, or the caller is ahead of it: start one at ``after``
            self._restart(after)
            self._take(self._read_store(after, self._read_limit(max(limit, self.batch_size))))
        elif after == last and not self.running.is_set() and not self._known_empty(last):
            self._take(self._read_store(last, self._read_limit(max(limit, self.batch_size))))
        start = bisect.bisect_right(self._positions, after)
        return start, min(start + limit, len(self._events))

    def _last(self) -> int | None:
        return self._positions[-1] if self._positions else self._after

    def _restart(self, after: int) -> None:
        self._after, self._events, self._positions, self._sizes, self._values = after, [], [], [], 0
        self._by_topic, self._classified_from = {}, after

    def _drop_window(self) -> None:
        """Forget the window (holding the lock): a stopped feed keeps no event alive, even while
        something still refers to it; the next read starts a new window where its reader stands."""
        self._restart(0)
        self._after, self._last_of_topic, self._nothing_after = None, {}, None

    def _take(self, fresh: list[RecordedEvent]) -> None:
        """Add ``fresh`` (the events after the window's end) to the window; wake the subscribers of
        their topics, move the followers with nothing in them (holding the lock)."""
        self._nothing_after = None if fresh else (self._last(), self.monotonic())
        if not fresh:
            return
        sizes = [_size(e) for e in fresh]
        self._events.extend(fresh)
        self._positions.extend(e.global_position for e in fresh)
        self._sizes.extend(sizes)
        self._values += sum(sizes)
        self._largest = max(sizes)
        arrived = set()
        for event in fresh:
            topic = topic_of(event)
            arrived.add(topic)
            positions, events = self._by_topic.setdefault(topic, ([], []))
            positions.append(event.global_position)
            events.append(event)
            self._last_of_topic[topic] = event.global_position
        self._trim(fresh[0].global_position - 1)
        last = fresh[-1].global_position
        for subscriber in self._subscribers:
            progress = subscriber.progress
            if progress is not None and self._clear_after(progress.position, subscriber.topics):
                progress._advance(last)
            elif not subscriber.topics.isdisjoint(arrived):
                subscriber.woken.set()

    def _clear_after(self, position: int, topics: frozenset[str]) -> bool:
        """Whether the store holds no event of ``topics`` after ``position`` up to the window's end
        (as far as this feed knows: ``position`` is not before ``_classified_from``)."""
        if position < self._classified_from:
            return False
        return all(self._last_of_topic.get(t, 0) <= position for t in topics)

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
            for positions, events in self._by_topic.values():
                cut = bisect.bisect_right(positions, self._after)
                del positions[:cut], events[:cut]

    def _known_empty(self, last: int) -> bool:
        """Whether the store was found to hold nothing after ``last`` less than ``head_recheck_s`` ago."""
        if self._nothing_after is None or self._nothing_after[0] != last:
            return False
        return self.monotonic() - self._nothing_after[1] < self.head_recheck_s

    def run(self, stop: threading.Event) -> None:
        """Read every append into the window until ``stop`` (class docstring): at once for this
        process's appends (the store's ``wait_for_append``), every ``head_recheck_s`` for others'.
        An error of the store is logged and retried with back-off."""
        delay = 0.05
        self.running.set()
        try:
            while not stop.is_set():
                try:
                    self._pump(stop)
                    delay = 0.05
                except Exception:  # noqa: BLE001 - logged and retried: the followers depend on it
                    log.exception("the event feed failed to read the store; retrying in %.2fs", delay)
                    stop.wait(delay)
                    delay = min(delay * 2, 5.0)
        finally:
            self.running.clear()
            with self._lock:
                for subscriber in self._subscribers:  # they may wait long for their topics: let them see ``stop``
                    subscriber.woken.set()
                self._drop_window()

    def _pump(self, stop: threading.Event) -> None:
        with self._lock:
            last = self._last()
        if last is None:  # no follower has read yet: the window starts where the first one stands
            stop.wait(self.head_recheck_s)
            return
        self.store.wait_for_append(last, self.head_recheck_s)
        fresh = self._read_store(last, self._read_limit(self.batch_size))  # the followers read the window meanwhile
        with self._lock:
            if self._last() == last:  # else a follower ahead restarted the window: it read the store
                self._take(fresh)

    def wait_for_topics(self, subscriber: FeedSubscriber, after: int, timeout_s: float) -> None:
        """Block until the window holds events after ``after`` (then at once) or events of the
        subscriber's topics arrive, at most ``timeout_s`` seconds."""
        subscriber.woken.clear()
        with self._lock:
            last = self._last()
            if last is not None and last > after:
                return
        subscriber.woken.wait(timeout_s)

    def news_for(self, after: int, topics: frozenset[str]) -> Seen | None:
        """What the window tells a watcher at ``after``; None when it cannot tell (no :meth:`run`,
        or ``after`` before what it classified)."""
        with self._lock:
            last = self._last()
            if not self.running.is_set() or last is None or after < self._classified_from:
                return None
            return Seen(not self._clear_after(after, topics), max(after, last))

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


class FeedWatch:
    """An :class:`AppendWatch` of some topics on an :class:`EventFeed` (woken by their events only);
    on the store alone while the feed cannot tell (:meth:`EventFeed.news_for`)."""

    def __init__(self, feed: EventFeed, subscriber: FeedSubscriber):
        self.feed, self.subscriber = feed, subscriber
        self._store = StoreWatch(feed.store)

    def wait(self, after: int, timeout_s: float) -> Seen:
        self.subscriber.woken.clear()
        seen = self.feed.news_for(after, self.subscriber.topics)
        if seen is None:
            return self._store.wait(after, timeout_s)
        if not seen.news:
            self.subscriber.woken.wait(timeout_s)
            seen = self.feed.news_for(after, self.subscriber.topics) or Seen(True, after)
        return seen


def appended_reader(store: EventStore) -> Callable[[int, int], list[RecordedEvent]]:
    """``read_all(after, limit)`` of ``store``: its ``read_appended`` where its class defines one (the
    SQL stores serve this process's appends from the rows they committed:
    :meth:`infra.eventstore.sql.SqlEventStore.read_appended`), else its ``read_all``. Asked of the
    class, not the instance: a decorator forwarding unknown attributes to its inner store
    (``__getattr__``) must not hand over the inner one's reads and skip its own (unsealing)."""
    if getattr(type(store), "read_appended", None) is None:
        return store.read_all
    return store.read_appended  # type: ignore[attr-defined]


def _position(event: RecordedEvent) -> int:
    return event.global_position


def _size(recorded: RecordedEvent) -> int:
    """An event's weight in the window: its values (readings), at least 1."""
    values = recorded.data.get("values")
    return max(1, len(values)) if isinstance(values, list) else 1


__all__ = ["EventFeed", "FeedBatch", "FeedSubscriber", "FeedWatch", "appended_reader"]
