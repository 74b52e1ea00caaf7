"""The in-process runner: threads that drive the processors (and the relay, with a log).

Embedded, each processor follows the event store from its own checkpoint
(:class:`streams.follower.StoreFollower`), all of them through one feed whose thread reads the
appends (:class:`streams.event_feed.EventFeed`). With Kafka, a processor consumes records of its
topics as a consumer group member (:class:`ProcessorLoop`), applies them (durably: read-model
rows plus checkpoint in one transaction), then commits the offsets. Errors are logged and the
batch is retried after a back-off; nothing is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from domain.events import RecordedEvent
from domain.ports.log import Log, LogRecord
from streams.relay import Relay

log = logging.getLogger(__name__)


class Processor(Protocol):
    """Anything that consumes events: projections, forecasters, the scheduler."""

    name: str
    topics: Sequence[str]

    def process(self, partition: str, events: Sequence[RecordedEvent]) -> int:
        """Apply events of one partition durably and idempotently; return the new checkpoint."""
        ...

    def advance(self, partition: str, position: int) -> None:
        """Nothing of this processor's in ``partition`` up to ``position``: its checkpoint may move there
        (at once, or with the next ``flush()`` for processors that save lazily)."""
        ...

    def checkpoint(self) -> int:
        """Where processing resumes: the ``*`` checkpoint, else the lowest per-partition one."""
        ...


class Progress:
    """How far a processor has applied the store, and the waiters for a position (read-your-writes)."""

    def __init__(self, position: int):
        self.position = position
        self.progress = threading.Condition()
        # (position, tie-breaker, loop, future) of coroutines waiting in wait_for_async; a heap
        self._async_waiters: list[tuple[int, int, asyncio.AbstractEventLoop, asyncio.Future]] = []
        self._waiter_ids = itertools.count()

    def _advance(self, position: int) -> None:
        with self.progress:
            if position > self.position:
                self.position = position
                self.progress.notify_all()
                self._wake_async_waiters()

    def _wake_async_waiters(self) -> None:
        """Resolve the futures of coroutines waiting for a position now reached (holding ``progress``)."""
        while self._async_waiters and self._async_waiters[0][0] <= self.position:
            _, _, loop, future = heapq.heappop(self._async_waiters)
            with contextlib.suppress(RuntimeError):  # a closed event loop: nobody waits any more
                loop.call_soon_threadsafe(_resolve, future)

    async def wait_for_async(self, position: int, timeout_s: float) -> bool:
        """Like :meth:`wait_for` without blocking a thread: the event loop is woken once, when
        ``position`` is processed. False on timeout (``timeout_s`` in seconds)."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        with self.progress:
            if self.position >= position:
                return True
            heapq.heappush(self._async_waiters, (position, next(self._waiter_ids), loop, future))
        try:
            await asyncio.wait_for(future, timeout_s)
        except TimeoutError:
            return False
        return True

    def wait_for(self, position: int, timeout_s: float) -> bool:
        """Block until events up to ``position`` are processed; False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self.progress:
            while self.position < position:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.progress.wait(remaining)
        return True


def apply_until_done(
    processor: Processor, batches: dict[str, list[RecordedEvent]], stop: threading.Event, on_error: Callable[[], None]
) -> int | None:
    """Apply each partition's batch; on an error log, back off and retry (never drop). ``None``: stopped."""
    delay = 0.05
    while not stop.is_set():
        try:
            return max(processor.process(p, events) for p, events in batches.items())
        except Exception:  # noqa: BLE001 - logged, retried, never dropped
            on_error()
            log.exception("processor %s failed; retrying in %.2fs", processor.name, delay)
            stop.wait(delay)
            delay = min(delay * 2, 5.0)
    return None


def flush(processor: Processor) -> None:
    """Idle: let a processor that saves its checkpoint lazily save it now (optional ``flush()``)."""
    flush_ = getattr(processor, "flush", None)
    if flush_ is None:
        return
    try:
        flush_()
    except Exception:  # noqa: BLE001 - logged; the next batch or idle poll saves again
        log.exception("processor %s: saving its checkpoint failed", processor.name)


class ProcessorLoop(Progress):
    """Polls the log for one processor, applies, commits (Kafka deployment, and Kafka embedded)."""

    def __init__(
        self,
        processor: Processor,
        log_: Log,
        max_records: int = 5000,
        published_position: Callable[[], int] = lambda: 0,
    ):
        super().__init__(processor.checkpoint())
        self.processor, self.log, self.max_records = processor, log_, max_records
        self.published_position = published_position
        self.errors = 0

    def run(self, stop: threading.Event) -> None:
        consumer = self.log.consumer(self.processor.name, list(self.processor.topics))
        try:
            while not stop.is_set():
                published = self.published_position()
                records = consumer.poll(self.max_records, timeout_s=0.2)
                if records and self._apply(records, stop):
                    consumer.commit(records)
                elif not records:
                    self._advance(published)  # nothing of ours up to what the relay had published
                    flush(self.processor)
        finally:
            consumer.close()

    def _apply(self, records: list[LogRecord], stop: threading.Event) -> bool:
        by_partition: dict[str, list[RecordedEvent]] = {}
        for record in records:
            by_partition.setdefault(f"{record.topic}:{record.partition}", []).append(record.value)
        last = apply_until_done(self.processor, by_partition, stop, self._count_error)
        if last is None:
            return False
        self._advance(last)
        return True

    def _count_error(self) -> None:
        self.errors += 1


def _resolve(future: asyncio.Future) -> None:
    if not future.done():  # a timed-out waiter's future is already cancelled
        future.set_result(True)


class Loop(Protocol):
    """A thread's work: a processor loop (log) or a store follower (:mod:`streams.follower`)."""

    processor: Processor

    def run(self, stop: threading.Event) -> None: ...

    def wait_for(self, position: int, timeout_s: float) -> bool: ...

    async def wait_for_async(self, position: int, timeout_s: float) -> bool: ...


class Feeder(Protocol):
    """What reads the store for the loops (:class:`streams.follower.EventFeed`)."""

    def run(self, stop: threading.Event) -> None: ...


class InProcessRunner:
    """Runs the relay (when there is a log to feed) or the feed of the store followers, and every
    processor loop, in daemon threads."""

    def __init__(self, relay: Relay | None, loops: Sequence[Loop], feed: Feeder | None = None):
        self.relay, self.feed, self.loops = relay, feed, {loop.processor.name: loop for loop in loops}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        targets = [("relay", self.relay.run)] if self.relay is not None else []
        targets += [("feed", self.feed.run)] if self.feed is not None else []
        targets += [(name, loop.run) for name, loop in self.loops.items()]
        for name, target in targets:
            thread = threading.Thread(target=target, args=(self._stop,), name=f"flexledger-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout_s)
        self._threads.clear()

    def wait_for(self, position: int, processors: Sequence[str] | None = None, timeout_s: float = 5.0) -> bool:
        """Block until the named processors (default: all) have processed ``position``."""
        return wait_for_loops(self.loops, position, processors, timeout_s)

    async def wait_for_async(
        self, position: int, processors: Sequence[str] | None = None, timeout_s: float = 5.0
    ) -> bool:
        """:meth:`wait_for` for coroutines: waits without holding a thread."""
        return await wait_for_loops_async(self.loops, position, processors, timeout_s)


class Waits(Protocol):
    """Anything that can wait until it processed a position (a loop, a mirrored progress)."""

    def wait_for(self, position: int, timeout_s: float) -> bool: ...

    async def wait_for_async(self, position: int, timeout_s: float) -> bool: ...


def wait_for_loops(
    loops: Mapping[str, Waits], position: int, processors: Sequence[str] | None, timeout_s: float
) -> bool:
    """Block until the named ``loops`` (default: all) have processed ``position``; one deadline for all."""
    names = processors or list(loops)
    deadline = time.monotonic() + timeout_s
    return all(loops[n].wait_for(position, max(0.0, deadline - time.monotonic())) for n in names)


async def wait_for_loops_async(
    loops: Mapping[str, Waits], position: int, processors: Sequence[str] | None, timeout_s: float
) -> bool:
    """:func:`wait_for_loops` for coroutines: waits without holding a thread."""
    names = processors or list(loops)
    deadline = time.monotonic() + timeout_s
    for name in names:
        if not await loops[name].wait_for_async(position, max(0.0, deadline - time.monotonic())):
            return False
    return True
