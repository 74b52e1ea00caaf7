"""The distributed worker process, composed: ``flexledger worker`` / ``python -m infra.worker``.

``run_worker(settings)`` builds the platform from settings (normally ``FLEXLEDGER_LOG=kafka`` and
PostgreSQL read models) without the in-process runner, and runs the platform's processors
(:func:`infra.bootstrap.build_processors`) in a :class:`streams.worker.Worker`: one Kafka
consumer group per processor, exactly-once effect through the processors' checkpoints (see
:mod:`streams.worker`).

``relay=True`` also runs what a deployment runs exactly once: the relay (event store -> Kafka)
with its durable checkpoint, the device gateways and dispatcher, and webhook delivery
(:mod:`streams.webhooks`). ``runner="faust"`` runs the processors as Faust agents instead
(:mod:`infra.faust_app`); Faust does not watch the relay thread, so give the relay to a plain
(``confluent``) worker.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from collections.abc import Sequence
from typing import Literal

from infra.bootstrap import Platform, build_platform
from infra.heap import freeze_start_up_heap
from infra.settings import Settings
from streams.relay_checkpoint import RelayCheckpoint
from streams.webhooks import RetryPolicy, WebhookDispatcher
from streams.worker import Worker, start_relay

log = logging.getLogger(__name__)


def start_webhooks(platform: Platform, stop: threading.Event) -> list[threading.Thread]:
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
    if settings.log != "kafka":
        log.warning("FLEXLEDGER_LOG=%s: a separate worker process only makes sense with kafka", settings.log)
    platform = build_platform(settings.model_copy(update={"run_processors": False}))
    freeze_start_up_heap()
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
            from infra.faust_app import run_faust  # faust is imported only by the workers that run it

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
    """``python -m infra.worker [--max-records N] [--relay] [--faust]`` (settings from FLEXLEDGER_*)."""
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
