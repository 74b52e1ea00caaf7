"""The distributed worker: every processor as a Kafka consumer group member, in one process.

``run_worker(settings)`` is the entry point behind ``flexledger worker`` (also
``python -m streams.worker``). It builds the platform from settings (normally
``FLEXLEDGER_LOG=kafka`` and PostgreSQL read models), and runs, per processor of
:func:`infra.bootstrap.build_processors`, the same :class:`~streams.runner.ProcessorLoop` as
the embedded runner: poll the processor's topics in consumer group ``processor.name``, apply
each partition's events (read-model rows and the per-partition checkpoint in one
transaction), then commit the Kafka offsets. A worker killed between the transaction and
the offset commit re-reads those records after restart; the checkpoint makes the processor
skip them, so the effect is exactly-once. More workers in the same groups share the
partitions (scale-out by partition; key = stream id).

``relay=True`` also runs the relay (event store -> Kafka) with its durable checkpoint
(:mod:`streams.relay_checkpoint`) and webhook delivery (:mod:`streams.webhooks`); run exactly
one relay per deployment. ``runner="faust"``
runs the processors as Faust agents instead (:mod:`streams.faust_app`); Faust does not watch
the relay thread, so give the relay to a plain (``confluent``) worker.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from domain.events import RecordedEvent
from domain.ports.event_store import EventStore
from domain.ports.log import Log, LogConsumer
from infra.settings import Settings
from streams.relay import Relay
from streams.relay_checkpoint import RelayCheckpoint
from streams.runner import Processor, ProcessorLoop
from streams.webhooks import RetryPolicy, WebhookDispatcher

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


def start_webhooks(platform, stop: threading.Event) -> list[threading.Thread]:
    """Run webhook delivery (one per deployment: with the relay) in a thread until ``stop`` is set."""
    if platform.webhooks is None:
        return []
    settings = platform.settings
    policy = RetryPolicy(settings.webhook_max_attempts, settings.webhook_backoff_s, settings.webhook_max_backoff_s)
    dispatcher = WebhookDispatcher(platform.store, platform.webhooks, policy=policy)
    thread = threading.Thread(target=dispatcher.run, args=(stop,), name="worker-webhooks", daemon=True)
    thread.start()
    return [thread]


def run_worker(
    settings: Settings,
    *,
    stop: threading.Event | None = None,
    max_records: int = 500,
    relay: bool = False,
    runner: Literal["confluent", "faust"] = "confluent",
) -> None:
    """Run the processors (and optionally the relay) until ``stop`` is set or SIGTERM/SIGINT.

    Raises ``RuntimeError`` when a processor loop or the relay died (exit, let the
    supervisor restart the worker: it resumes from the committed offsets).
    """
    from infra.bootstrap import build_platform

    if settings.log != "kafka":
        log.warning("FLEXLEDGER_LOG=%s: a separate worker process only makes sense with kafka", settings.log)
    platform = build_platform(settings.model_copy(update={"run_processors": False}))
    stop = stop or threading.Event()
    _stop_on_signals(stop)
    threads: list[threading.Thread] = []
    worker: Worker | None = None
    try:
        if relay:
            checkpoint = RelayCheckpoint(platform.checkpoints)
            threads.append(start_relay(platform.log, platform.store, checkpoint, stop))
            if platform.devices is not None:  # one per deployment, like the relay: gateways and dispatcher
                platform.devices.start()
            threads.extend(start_webhooks(platform, stop))
        if runner == "faust":
            from streams.faust_app import run_faust

            run_faust(platform, max_records=max_records)  # blocks until Faust stops (its own signals)
            return
        worker = Worker(platform.log, platform.runnable_processors(), max_records=max_records)
        worker.start()
        while not stop.wait(1.0):
            if worker.failed() or not all(t.is_alive() for t in threads):
                raise RuntimeError(f"worker stopped: {worker.errors or 'the relay died'}")
    finally:
        stop.set()
        if worker is not None:
            worker.stop()
        for thread in threads:
            thread.join(10)
        platform.close()


def _stop_on_signals(stop: threading.Event) -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m streams.worker [--max-records N] [--relay] [--faust]`` (settings from FLEXLEDGER_*)."""
    parser = argparse.ArgumentParser(description="flexledger worker: processors on Kafka")
    parser.add_argument("--max-records", type=int, default=500, help="records per batch at most")
    parser.add_argument("--relay", action="store_true", help="also run the relay (one per deployment)")
    parser.add_argument("--faust", action="store_true", help="run the processors as Faust agents")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    started = time.monotonic()
    run_worker(
        Settings(), max_records=args.max_records, relay=args.relay, runner="faust" if args.faust else "confluent"
    )
    log.info("worker stopped after %.0f s", time.monotonic() - started)


if __name__ == "__main__":
    main()
