"""The distributed worker's loops: every processor as a Kafka consumer group member, in one process.

:class:`Worker` runs, per processor, the same :class:`~streams.runner.ProcessorLoop` as the
embedded runner, each in a thread: poll the processor's topics in consumer group
``processor.name``, apply each partition's events (read-model rows and the per-partition
checkpoint in one transaction), then commit the Kafka offsets. A worker killed between the
transaction and the offset commit re-reads those records after restart; the checkpoint makes
the processor skip them, so the effect is exactly-once. More workers in the same groups share
the partitions (scale-out by partition; key = stream id). :func:`start_relay` runs the relay
(event store -> log) from its durable checkpoint (:mod:`streams.relay_checkpoint`); run exactly
one relay per deployment.

The entry point that composes a worker process from settings (``flexledger worker``,
``python -m infra.worker``) is :mod:`infra.worker`, beside the CLI; this module knows only
the ports.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from domain.events import RecordedEvent
from domain.ports.event_store import EventStore
from domain.ports.log import Log, LogConsumer
from streams.relay import Relay
from streams.relay_checkpoint import RelayCheckpoint
from streams.runner import Processor, ProcessorLoop

log = logging.getLogger(__name__)

OnProcessed = Callable[[str, str, Sequence[RecordedEvent]], None]
"""Called after a processor applied a batch: (processor name, partition key, events)."""


class TrackedProcessor:
    """Wraps a processor; remembers which log partitions it applied and reports batches."""

    def __init__(self, processor: Processor, on_processed: OnProcessed | None = None):
        self.inner, self.on_processed = processor, on_processed
        self.name, self.topics = processor.name, processor.topics
        self.partitions: set[str] = set()
        self.events = 0

    def process(self, partition: str, events: Sequence[RecordedEvent]) -> int:
        checkpoint = self.inner.process(partition, events)
        if partition not in self.partitions:
            log.info("%s: applying partition %s", self.name, partition)
        self.partitions.add(partition)
        self.events += len(events)
        if self.on_processed is not None:
            self.on_processed(self.name, partition, events)
        return checkpoint

    def checkpoint(self) -> int:
        return self.inner.checkpoint()

    def advance(self, partition: str, position: int) -> None:
        self.inner.advance(partition, position)

    def flush(self) -> None:
        """Forwarded to processors that save their checkpoint lazily (see ``ProcessorLoop``)."""
        flush = getattr(self.inner, "flush", None)
        if flush is not None:
            flush()


@dataclass
class _ConsumerRegistry:
    """A log that remembers the consumers it handed out (for :meth:`Worker.assignment`)."""

    log: Log
    consumers: dict[str, LogConsumer] = field(default_factory=dict)

    def consumer(self, group: str, topics: Sequence[str]) -> LogConsumer:
        consumer = self.log.consumer(group, topics)
        self.consumers[group] = consumer
        return consumer


class Worker:
    """One processor loop per processor, each in a thread, against ``log_``.

    ``max_records``: the most records one poll (and so one batch) takes.
    """

    def __init__(
        self,
        log_: Log,
        processors: Sequence[Processor],
        max_records: int = 500,
        on_processed: OnProcessed | None = None,
    ):
        self.processors = [TrackedProcessor(p, on_processed) for p in processors]
        self._log = _ConsumerRegistry(log_)
        self.loops = [ProcessorLoop(p, self._log, max_records=max_records) for p in self.processors]  # type: ignore[arg-type]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.errors: dict[str, BaseException] = {}

    def start(self) -> None:
        for loop in self.loops:
            name = loop.processor.name
            thread = threading.Thread(target=self._run, args=(loop,), name=f"worker-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _run(self, loop: ProcessorLoop) -> None:
        try:
            loop.run(self._stop)
        except BaseException as exc:  # noqa: BLE001 - reported by failed(); the worker exits on it
            log.exception("processor loop %s stopped", loop.processor.name)
            self.errors[loop.processor.name] = exc

    def failed(self) -> bool:
        """True when a loop died (e.g. a fatal Kafka error); the process should exit and restart."""
        return bool(self.errors)

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop after the current batches (applied and committed); consumers leave their groups."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout_s)
        self._threads.clear()

    def assignment(self) -> dict[str, list[tuple[str, int]]]:
        """Per processor, the (topic, partition) pairs its consumer owns now (Kafka only)."""
        return {
            group: consumer.assignment()  # type: ignore[attr-defined]
            for group, consumer in list(self._log.consumers.items())
            if hasattr(consumer, "assignment")
        }

    def partitions(self) -> dict[str, set[str]]:
        """Per processor, the partition keys (``topic:partition``) it has applied so far."""
        return {p.name: set(p.partitions) for p in self.processors}


def start_relay(log_: Log, store: EventStore, checkpoint: RelayCheckpoint, stop: threading.Event) -> threading.Thread:
    """Run the relay from its durable checkpoint in a thread until ``stop`` is set."""
    relay = Relay(store, log_, checkpoint.load(), save_checkpoint=checkpoint.save)
    thread = threading.Thread(target=relay.run, args=(stop,), name="worker-relay", daemon=True)
    thread.start()
    return thread
