"""Faust runner: processors as Faust agents (a thin adapter, no logic here).

One agent per processor, consuming the processor's topics as raw bytes (decoded by the
``decode`` the composition root passes: the log's wire format belongs to its adapter). Each
batch (``stream.take_events``: at most ``max_records`` records, or what arrived within
``within_s``) is split by log partition and applied with
``processor.process(f"{topic}:{partition}", events)`` -- read-model rows and the
per-partition checkpoint in one transaction -- in a worker thread (the event loop stays free).
Faust acks the batch's events only after that, and commits acked offsets
(``broker_commit_interval``); a worker killed in between re-reads those records and the
checkpoint skips them: exactly-once effect. A failing batch is retried with back-off, never
dropped.

All agents share one consumer group (the Faust app id, default ``flexledger-faust``); the
plain worker (:mod:`streams.worker`, composed by :mod:`infra.worker`) uses one group per
processor. Do not run both runners on the same topics: each would apply every event once more
(harmlessly skipped, but wasted).

Composed and run by :func:`infra.faust_app.run_faust` (``flexledger worker --runner faust``,
``python -m infra.worker --faust``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

import faust

from domain.events import RecordedEvent
from streams.runner import Processor

log = logging.getLogger(__name__)

APP_ID = "flexledger-faust"
Decode = Callable[[bytes], RecordedEvent]
"""A log record's value -> the event it carries."""


def faust_brokers(bootstrap_servers: str) -> list[str]:
    """``host:port,host:port`` -> Faust broker URLs."""
    return [f"kafka://{server.strip()}" for server in bootstrap_servers.split(",") if server.strip()]


def by_partition(events: Sequence[faust.types.EventT], decode: Decode) -> dict[str, list[RecordedEvent]]:
    """Decode a batch of Faust events, grouped by ``topic:partition`` (order kept)."""
    batches: dict[str, list[RecordedEvent]] = {}
    for event in events:
        message = event.message
        batches.setdefault(f"{message.topic}:{message.partition}", []).append(decode(event.value))
    return batches


async def apply_with_retry(processor: Processor, batches: dict[str, list[RecordedEvent]]) -> None:
    """Apply every partition's events (in a thread); retry the batch with back-off until it succeeds."""
    delay_s = 0.05
    while True:
        try:
            for partition, events in batches.items():
                await asyncio.to_thread(processor.process, partition, events)
            return
        except Exception:  # noqa: BLE001 - logged and retried, never dropped
            log.exception("processor %s failed; retrying in %.2fs", processor.name, delay_s)
            await asyncio.sleep(delay_s)
            delay_s = min(delay_s * 2, 5.0)


def _agent_for(processor: Processor, decode: Decode, max_records: int, within_s: float):
    async def apply_batches(stream: faust.StreamT) -> None:
        async for events in stream.take_events(max_records, within=within_s):
            await apply_with_retry(processor, by_partition(events, decode))

    return apply_batches


def create_app(
    processors: Sequence[Processor],
    bootstrap_servers: str,
    decode: Decode,
    *,
    app_id: str = APP_ID,
    max_records: int = 500,
    within_s: float = 0.1,
    partitions: int = 6,
    session_timeout_s: float = 10.0,
    **settings,
) -> faust.App:
    """A Faust app with one agent per processor (``settings``: extra Faust settings).

    ``session_timeout_s``: how long the group waits for a silent (killed) worker before its
    partitions go to the others (Faust's default is 60 s; the brokers' minimum is 6 s).
    """
    app = faust.App(
        app_id,
        broker=faust_brokers(bootstrap_servers),
        value_serializer="raw",
        key_serializer="raw",
        topic_allow_declare=False,  # KafkaLog creates topics; Faust only consumes
        topic_disable_leader=True,
        topic_partitions=partitions,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0,
        broker_session_timeout=session_timeout_s,
        broker_heartbeat_interval=max(0.1, session_timeout_s / 10),
        web_enabled=False,
        store="memory://",
        **settings,
    )
    for processor in processors:
        topic = app.topic(*processor.topics, key_type=bytes, value_type=bytes, value_serializer="raw")
        app.agent(topic, name=f"{app_id}.{processor.name}")(_agent_for(processor, decode, max_records, within_s))
    return app


__all__ = ["APP_ID", "Decode", "apply_with_retry", "by_partition", "create_app", "faust_brokers"]
