"""Live event subscriptions for third parties: catch-up from the event store, then live.

Each subscriber pulls from the event store through the port (``read_all`` from its own
cursor, in a worker thread) and waits for appends on one shared :class:`HeadWatcher`. There
is no per-subscriber buffer in the server: catch-up and live are the same loop, so the hand-
over has no gap and no duplicate, and a slow subscriber only slows itself — ingestion and other
subscribers never wait for it. The subscriber's cursor is the global position of the last
event it was sent (the SSE ``id``); resuming after it continues exactly there.

Backpressure: a send that blocks longer than ``send_timeout_s`` (a stalled client) ends the
connection; a subscriber that has reached the head once and then falls more than
``max_lag_s`` seconds behind (the next event was recorded that long ago) is told
``lagging`` with its resume position and disconnected. Both resume with ``Last-Event-ID``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import anyio
from anyio import CapacityLimiter

from domain.disclosure import OwnershipResolver, StreamOwner, SubscriptionFilter
from domain.events import RecordedEvent
from domain.ports.event_store import EventStore

BATCH_SIZE = 500
WAIT_S = 15.0
WATCHER_IDLE_EXIT_S = 5.0


class HeadWatcher:
    """Wakes waiting coroutines when the event store's head advances (one thread, shared).

    The thread blocks in ``store.wait_for_append`` (a condition in this process; LISTEN/NOTIFY
    across processes on PostgreSQL), starts with the first waiter and exits when no one waited
    for :data:`WATCHER_IDLE_EXIT_S`.
    """

    def __init__(self, store: EventStore):
        self.store = store
        self.head = store.head_position()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._last_waiter = time.monotonic()

    async def wait_beyond(self, position: int, timeout_s: float) -> bool:
        """Wait until the head passes ``position`` (True) or ``timeout_s`` passed (False)."""
        if self.head > position:
            return True
        waiter = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiters.add(waiter)
            self._last_waiter = time.monotonic()
            self._ensure_thread()
        try:
            if self.head > position:
                return True
            with anyio.move_on_after(timeout_s):
                while self.head <= position:
                    waiter[1].clear()
                    await waiter[1].wait()
            return self.head > position
        finally:
            with self._lock:
                self._waiters.discard(waiter)

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="flexledger-stream-head", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._waiters and time.monotonic() - self._last_waiter > WATCHER_IDLE_EXIT_S:
                    self._thread = None
                    return
            try:
                if self.store.wait_for_append(self.head, 1.0):
                    self.head = max(self.head, self.store.head_position())
            except Exception:  # noqa: BLE001 - a closed or failing store: waiters time out and retry
                time.sleep(1.0)
            self._wake()

    def _wake(self) -> None:
        with self._lock:
            waiters = list(self._waiters)
        for loop, event in waiters:
            if not loop.is_closed():
                loop.call_soon_threadsafe(event.set)


@dataclass
class StreamStats:
    """Counters of the subscriptions served by this process (``GET /api/v3_0/streams/status``)."""

    active: int = 0
    served: int = 0
    stalled_disconnects: int = 0
    """Subscribers dropped because a send blocked longer than the send timeout."""
    lagging_disconnects: int = 0
    """Subscribers told ``lagging`` (too far behind) and disconnected."""
    caught_up: int = 0
    """Subscribers that reached the head (catch-up done, live from then on)."""
    changed: threading.Condition = field(default_factory=threading.Condition, repr=False)

    def count(self, name: str, delta: int = 1) -> None:
        with self.changed:
            setattr(self, name, getattr(self, name) + delta)
            self.changed.notify_all()

    def wait_until(self, predicate: Callable[[StreamStats], bool], timeout_s: float) -> bool:
        """Block until ``predicate(self)`` holds (True) or ``timeout_s`` passed (False)."""
        with self.changed:
            return self.changed.wait_for(lambda: predicate(self), timeout_s)

    def as_dict(self) -> dict[str, int]:
        names = ("active", "served", "caught_up", "stalled_disconnects", "lagging_disconnects")
        return {name: getattr(self, name) for name in names}


class Lagging(Exception):
    """The subscriber fell too far behind; it resumes after ``position``."""

    def __init__(self, position: int):
        super().__init__(f"subscriber too far behind; resume after position {position}")
        self.position = position


@dataclass
class Subscription:
    """One subscriber: its cursor (global position of the last event examined) and filters."""

    store: EventStore
    resolver: OwnershipResolver
    visible: Callable[[StreamOwner], bool]
    flt: SubscriptionFilter
    cursor: int = 0
    max_lag_s: float = 60.0
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    on_live: Callable[[], None] = lambda: None
    """Called once, when the subscriber first reaches the head."""
    live: bool = False
    sent: int = 0
    """Global position of the last event handed out (the resume point)."""

    def __post_init__(self) -> None:
        self.sent = self.cursor

    def _read(self) -> tuple[list[RecordedEvent], int, bool]:
        """(matching visible events, new cursor, reached the head) — blocking, in a worker thread."""
        types = self.flt.types or None
        head = self.store.head_position() if types else 0  # before the read: nothing below it comes later
        batch = self.store.read_all(self.cursor, BATCH_SIZE, types=types)
        cursor = batch[-1].global_position if batch else self.cursor
        at_head = len(batch) < BATCH_SIZE
        if at_head and types:
            cursor = max(cursor, head)
        chosen = []
        for event in batch:
            owner = self.resolver.owner_of(event)
            if self.visible(owner) and self.flt.matches(event, owner):
                chosen.append(event)
        return chosen, cursor, at_head

    def _check_lag(self, event: RecordedEvent) -> None:
        if self.live and event.metadata.recorded_at < self.clock() - timedelta(seconds=self.max_lag_s):
            raise Lagging(self.sent)

    async def events(self, watcher: HeadWatcher, limiter: CapacityLimiter) -> AsyncIterator[RecordedEvent]:
        """Matching events after the cursor, in order, forever (catch-up, then live)."""
        while True:
            chosen, cursor, at_head = await anyio.to_thread.run_sync(self._read, limiter=limiter)
            for event in chosen:
                self._check_lag(event)
                yield event
                self.sent = event.global_position
            self.cursor = cursor
            if at_head:
                if not self.live:
                    self.live = True
                    self.on_live()
                await watcher.wait_beyond(self.cursor, WAIT_S)
