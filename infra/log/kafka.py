"""Kafka log (confluent-kafka): the distributed adapter of :mod:`domain.ports.log`.

* Publishing uses an idempotent producer (``enable.idempotence``: no duplicates or reordering
  from producer retries) with the murmur2 partitioner (the Java client's: the same key lands
  on the same partition whichever client produced it). The key is the stream id, so a stream's
  events stay in order on one partition. ``publish`` returns only once every record is
  acknowledged by the brokers (``acks=all``) and raises :class:`KafkaPublishError` otherwise.
* Values are encoded by :mod:`infra.log.serialization`; record headers travel as Kafka
  headers (UTF-8), plus ``content-type`` telling events from other JSON values.
* Topics are created on first use with the configured partition count through the admin API.
  When the cluster cannot create topics (no controller, e.g. librdkafka's mock cluster) they
  are auto-created by a metadata request, with the broker's default partition count.
* A consumer joins its group with ``enable.auto.commit=false`` and
  ``auto.offset.reset=earliest``; ``commit(records)`` synchronously commits offset + 1 of the
  last record per partition. A commit refused because a rebalance moved the partition is
  logged, not raised: the new owner re-reads those records, and processors skip what their
  checkpoint already covers (at-least-once delivery, exactly-once effect).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from typing import Any

from aiokafka.partitioner import murmur2
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from domain.ports.log import LogRecord
from infra.log.serialization import decode_value, encode_value

log = logging.getLogger(__name__)
librdkafka_log = logging.getLogger(f"{__name__}.librdkafka")
"""librdkafka's own messages (connection failures, rebalances), through Python logging."""

CONTENT_TYPE_HEADER = "content-type"
_REBALANCE_ERRORS = {
    KafkaError.REBALANCE_IN_PROGRESS,
    KafkaError.ILLEGAL_GENERATION,
    KafkaError.UNKNOWN_MEMBER_ID,
    KafkaError._NO_OFFSET,
    KafkaError._ASSIGNMENT_LOST,
}


class KafkaPublishError(RuntimeError):
    """Some records were not acknowledged by Kafka; the caller must publish them again."""


def partition_for_key(key: str, partitions: int) -> int:
    """The partition of a non-empty ``key`` under librdkafka's ``murmur2_random`` partitioner:
    the Java client's murmur2 hash (aiokafka's implementation), positive, modulo ``partitions``."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


class KafkaLog:
    """A :class:`~domain.ports.log.Log` on Kafka.

    ``bootstrap_servers``: ``host:port[,host:port...]``; ``partitions``: partition count of
    topics this log creates; ``delivery_timeout_s``: how long ``publish`` may wait for the
    acknowledgement of a record before failing; ``session_timeout_s``: how long the group waits
    for a silent member (a killed worker) before handing its partitions to the others (Kafka's
    default is 45 s; the brokers' minimum is 6 s); ``config``: extra librdkafka settings for the
    producer, consumers and admin client (e.g. security settings); ``consumer_config``: extra
    settings for consumers only (e.g. ``fetch.wait.max.ms``).
    """

    def __init__(
        self,
        bootstrap_servers: str,
        partitions: int = 6,
        delivery_timeout_s: float = 30.0,
        session_timeout_s: float = 10.0,
        config: dict[str, Any] | None = None,
        consumer_config: dict[str, Any] | None = None,
    ):
        self.bootstrap_servers, self.partitions = bootstrap_servers, partitions
        self.delivery_timeout_s, self.session_timeout_s = delivery_timeout_s, session_timeout_s
        self._config = {"bootstrap.servers": bootstrap_servers, "logger": librdkafka_log, **(config or {})}
        self._consumer_config = consumer_config or {}
        self._producer = Producer(
            {
                **self._config,
                "enable.idempotence": True,
                "acks": "all",
                "partitioner": "murmur2_random",
                "linger.ms": 5,
                "message.timeout.ms": int(delivery_timeout_s * 1000),
            }
        )
        self._known_topics: set[str] = set()
        self._topics_lock = threading.Lock()
        self._partition_counts: dict[str, int] = {}

    # -- topics -------------------------------------------------------------------------
    def ensure_topics(self, topics: Iterable[str], timeout_s: float = 10.0) -> None:
        """Create missing topics (``partitions`` each); auto-create where the admin API is absent."""
        wanted = set(topics) - self._known_topics
        if not wanted:
            return
        with self._topics_lock:
            metadata = self._producer.list_topics(timeout=timeout_s)
            missing = {t for t in wanted if t not in metadata.topics or metadata.topics[t].error is not None}
            if missing and metadata.controller_id in metadata.brokers:
                self._create_topics(missing, timeout_s)
            elif missing:
                log.warning("no controller to create topics %s: relying on auto-creation", sorted(missing))
            for topic in missing:  # a metadata request for a topic auto-creates it where allowed
                self._producer.list_topics(topic, timeout=timeout_s)
            self._known_topics |= wanted

    def _create_topics(self, topics: set[str], timeout_s: float) -> None:
        admin = AdminClient(self._config)
        new = [NewTopic(t, num_partitions=self.partitions, replication_factor=-1) for t in sorted(topics)]
        for future in admin.create_topics(new, request_timeout=timeout_s).values():
            try:
                future.result()
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise

    def partitions_of(self, topic: str, timeout_s: float = 10.0) -> int:
        """The partition count of an existing topic (0 when unknown)."""
        found = self._producer.list_topics(topic, timeout=timeout_s).topics.get(topic)
        return len(found.partitions) if found is not None and found.error is None else 0

    def partition_key(self, topic: str, key: str, timeout_s: float = 1.0) -> str | None:
        """``"<topic>:<partition>"`` of the records with ``key`` (as processors name their
        checkpoints), or ``None`` while the topic does not exist."""
        count = self._partition_counts.get(topic) or self.partitions_of(topic, timeout_s)
        if not count:
            return None
        self._partition_counts[topic] = count
        return f"{topic}:{partition_for_key(key, count)}"

    # -- publishing -----------------------------------------------------------------------
    def publish(self, records: Sequence[LogRecord]) -> None:
        """Produce ``records`` and wait until all are acknowledged (raises KafkaPublishError)."""
        if not records:
            return
        self.ensure_topics({r.topic for r in records})
        failures: list[KafkaError] = []

        def on_delivery(error: KafkaError | None, _message: Message) -> None:
            if error is not None:
                failures.append(error)

        for record in records:
            value, content_type = encode_value(record.value)
            headers = [(k, v.encode()) for k, v in record.headers.items()]
            headers.append((CONTENT_TYPE_HEADER, content_type.encode()))
            self._produce(record.topic, record.key.encode(), value, headers, on_delivery)
        remaining = self._producer.flush(self.delivery_timeout_s + 5)
        if failures or remaining:
            first = failures[0] if failures else "timed out"
            raise KafkaPublishError(f"{len(failures) + remaining} of {len(records)} records not acknowledged: {first}")

    def _produce(self, topic: str, key: bytes, value: bytes, headers: list, on_delivery) -> None:
        while True:
            try:
                self._producer.produce(topic, value=value, key=key, headers=headers, on_delivery=on_delivery)
                return
            except BufferError:  # local queue full: let deliveries drain
                self._producer.poll(0.1)

    # -- consuming ------------------------------------------------------------------------
    def consumer(self, group: str, topics: Sequence[str]) -> KafkaConsumer:
        self.ensure_topics(topics)
        session_ms = int(self.session_timeout_s * 1000)
        config = {
            "session.timeout.ms": session_ms,
            "heartbeat.interval.ms": max(100, session_ms // 10),
            **self._config,
            **self._consumer_config,
        }
        return KafkaConsumer(config, group, list(topics))

    def close(self) -> None:
        self._producer.flush(self.delivery_timeout_s)


class KafkaConsumer:
    """One member of a consumer group (a :class:`~domain.ports.log.LogConsumer`)."""

    def __init__(self, config: dict[str, Any], group: str, topics: list[str]):
        self.group, self.topics = group, topics
        self._consumer = Consumer(
            {
                **config,
                "group.id": group,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "enable.partition.eof": False,
            }
        )
        self._assigned: set[tuple[str, int]] = set()
        self._consumer.subscribe(topics, on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_revoke)

    def _on_assign(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._assigned = {(tp.topic, tp.partition) for tp in partitions}

    def _on_revoke(self, _consumer: Consumer, _partitions: list[TopicPartition]) -> None:
        self._assigned = set()

    def poll(self, max_records: int = 500, timeout_s: float = 0.5) -> list[LogRecord]:
        """Up to ``max_records`` records (waits at most ``timeout_s`` for the first one)."""
        records = []
        messages = self._consumer.consume(num_messages=1, timeout=timeout_s)  # wait for the first only,
        if messages and max_records > 1:  # then take what is already fetched: batches without added latency
            messages += self._consumer.consume(num_messages=max_records - 1, timeout=0)
        for message in messages:
            error = message.error()
            if error is not None:
                if error.fatal():
                    raise KafkaException(error)
                log.warning("consumer %s: %s", self.group, error)
                continue
            records.append(_to_record(message))
        return records

    def commit(self, records: Sequence[LogRecord]) -> None:
        """Synchronously commit offset + 1 of the last record of each partition."""
        offsets: dict[tuple[str, int], int] = {}
        for r in records:
            offsets[(r.topic, r.partition)] = max(offsets.get((r.topic, r.partition), -1), r.offset + 1)
        if not offsets:
            return
        partitions = [TopicPartition(t, p, o) for (t, p), o in offsets.items()]
        try:
            committed = self._consumer.commit(offsets=partitions, asynchronous=False) or []
        except KafkaException as exc:
            self._refused(exc.args[0])
            return
        for partition in committed:
            if partition.error is not None:
                self._refused(partition.error)

    def _refused(self, error: KafkaError) -> None:
        if error.code() not in _REBALANCE_ERRORS:
            raise KafkaException(error)
        log.warning("consumer %s: commit refused after a rebalance (%s); records will be re-read", self.group, error)

    def assignment(self) -> list[tuple[str, int]]:
        """The (topic, partition) pairs this member owns (as of its last poll; safe from any thread)."""
        return sorted(self._assigned)

    def close(self) -> None:
        self._consumer.close()


def _to_record(message: Message) -> LogRecord:
    headers = {k: (v or b"").decode() for k, v in message.headers() or []}
    content_type = headers.pop(CONTENT_TYPE_HEADER, None)
    return LogRecord(
        topic=message.topic(),
        key=(message.key() or b"").decode(),
        value=decode_value(message.value(), content_type),
        partition=message.partition(),
        offset=message.offset(),
        headers=headers,
    )


__all__ = ["KafkaConsumer", "KafkaLog", "KafkaPublishError"]
