"""The Kafka log adapter on the real Kafka protocol (librdkafka's mock cluster).

* values are RecordedEvents in a stable JSON encoding, headers (trace context, event type,
  global position) travel with them, keys keep per-stream order on one partition;
* ``publish`` raises when Kafka does not acknowledge (cluster gone);
* the relay resumes from its durable checkpoint; a relay that died between publishing and
  saving its checkpoint publishes a batch twice, and the read model still counts it once.

The generic log behaviour (groups, commits, order) is the contract suite's
(``tests/contract/test_log.py``, ``kafka`` adapter).
"""

from __future__ import annotations

import gc
import time
import uuid
from collections import Counter, defaultdict

import pytest
from confluent_kafka import Producer
from kafka_support import GENEROUS_TIMEOUT_S, KafkaPipeline, wait_until

from domain.events import EventMetadata, RecordedEvent
from domain.ports.log import LogConsumer, LogRecord
from infra.log.kafka import KafkaLog, KafkaPublishError
from infra.log.serialization import decode_event, decode_value, encode_event, encode_value
from streams.relay import records_for
from streams.relay_checkpoint import RelayCheckpoint
from streams.topics import TOPIC_ALL, TOPIC_READINGS
from streams.worker import Worker

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def event(stream_id: str, revision: int, position: int, **metadata) -> RecordedEvent:
    return RecordedEvent(
        event_id=uuid.uuid4(), stream_id=stream_id, stream_revision=revision, global_position=position,
        type="SensorDataRecorded", schema_version=1,
        data={"sensor_id": 7, "values": [1.5, None, -2.0], "unit": "kW", "start": "2024-01-01T00:00:00Z"},
        metadata=EventMetadata(actor="tester", **metadata),
    )


def drain(consumer: LogConsumer, count: int) -> list[LogRecord]:
    out: list[LogRecord] = []
    deadline = time.monotonic() + GENEROUS_TIMEOUT_S
    while len(out) < count:
        assert time.monotonic() < deadline, f"only {len(out)} of {count} records arrived"
        out.extend(consumer.poll(500, timeout_s=0.2))
    return out


def test_events_encode_to_stable_bytes_and_back():
    recorded = event("sensordata-7", 3, 42, traceparent=TRACEPARENT)
    encoded = encode_event(recorded)
    assert encoded == encode_event(RecordedEvent.model_validate(recorded.model_dump())), "same event, same bytes"
    assert encoded.startswith(b'{"data":{'), "sorted keys, no whitespace"
    assert decode_event(encoded) == recorded
    assert decode_value(*encode_value({"b": 1, "a": [None]})) == {"a": [None], "b": 1}


@pytest.mark.kafka
def test_published_events_arrive_with_headers_in_stream_order(kafka_mock_cluster):
    log = KafkaLog(kafka_mock_cluster.bootstrap_servers, partitions=6)
    streams = [f"sensordata-{i}" for i in range(12)]
    events = [event(s, rev, 1 + rev * len(streams) + i, traceparent=TRACEPARENT)
              for rev in range(10) for i, s in enumerate(streams)]
    for start in range(0, len(events), 25):
        log.publish([r for e in events[start : start + 25] for r in records_for(e)])
    consumer = log.consumer("headers", [TOPIC_READINGS])
    try:
        received = drain(consumer, len(events))
    finally:
        consumer.close()
        log.close()
    assert Counter(r.value.event_id for r in received) == Counter(e.event_id for e in events)
    by_id = {e.event_id: e for e in events}
    assert all(r.value == by_id[r.value.event_id] for r in received), "values decode to equal RecordedEvents"
    for r in received:
        assert r.key == r.value.stream_id and r.topic == TOPIC_READINGS
        assert r.headers == {"event_type": "SensorDataRecorded", "global_position": str(r.value.global_position),
                             "traceparent": TRACEPARENT}
    positions, partitions = defaultdict(list), defaultdict(set)
    for r in received:
        positions[r.key].append(r.value.global_position)
        partitions[r.key].add(r.partition)
    assert all(p == sorted(p) for p in positions.values()), "per-stream order"
    assert all(len(p) == 1 for p in partitions.values()), "one stream, one partition"
    assert len({r.partition for r in received}) > 1, "streams spread over partitions"
    assert log.partitions_of(TOPIC_ALL) > 1


@pytest.mark.kafka
def test_publish_raises_when_kafka_does_not_acknowledge():
    keeper = Producer({"test.mock.num.brokers": 1, "bootstrap.servers": "unused:1", "log_level": 3})
    servers = ",".join(f"{b.host}:{b.port}" for b in keeper.list_topics(timeout=5).brokers.values())
    log = KafkaLog(servers, delivery_timeout_s=2)
    log.publish(records_for(event("sensordata-1", 0, 1)))
    del keeper  # the last reference to the mock cluster's owner: the cluster stops
    gc.collect()
    with pytest.raises(KafkaPublishError, match="not acknowledged"):
        log.publish(records_for(event("sensordata-1", 1, 2)))


class CrashAfter:
    """A checkpoint saver that dies (like a killed relay) when asked to save the n-th time."""

    def __init__(self, checkpoint: RelayCheckpoint, saves: int):
        self.checkpoint, self.saves_left = checkpoint, saves

    def __call__(self, position: int) -> None:
        if self.saves_left == 0:
            raise SystemExit("relay killed after publishing, before saving its checkpoint")
        self.saves_left -= 1
        self.checkpoint.save(position)


@pytest.mark.kafka
@pytest.mark.postgres
@pytest.mark.parametrize("event_store", ["sqlite", "postgres"])
def test_relay_resumes_from_its_checkpoint_at_least_once(kafka_mock_cluster, kafka_postgres_url, tmp_path, event_store):
    """Relay dies between publishing a batch and saving its checkpoint; the restarted relay
    publishes that batch again: Kafka holds every event (some twice), the read model counts each once."""
    store_url = kafka_postgres_url if event_store == "postgres" else None
    pipeline = KafkaPipeline(tmp_path, kafka_mock_cluster.bootstrap_servers, kafka_postgres_url, store_url)
    worker = None
    try:
        pipeline.register_sensors(4)
        pipeline.post_readings(posts_per_sensor=15)
        checkpoint = RelayCheckpoint(pipeline.platform.checkpoints)
        pipeline.start_relay(batch_size=10, save_checkpoint=CrashAfter(checkpoint, saves=3))
        wait_until(lambda: not pipeline.relay_alive(), "the relay to die")
        assert isinstance(pipeline.relay_error, SystemExit)
        saved = checkpoint.load()
        assert 0 < saved < pipeline.platform.store.head_position()
        pipeline.start_relay(batch_size=10)
        pipeline.wait_relayed()
        assert checkpoint.load() == pipeline.platform.store.head_position()
        topic_positions = _all_topic_positions(pipeline)
        head = pipeline.platform.store.head_position()
        assert set(topic_positions) == set(range(1, head + 1)), "every event reached Kafka"
        assert max(topic_positions.values()) == 2, "the batch published before the crash came twice"
        worker = Worker(pipeline.platform.log, pipeline.platform.processors, max_records=50)
        worker.start()
        pipeline.wait_for_readings(pipeline.expected_count)
        worker.stop()
        assert pipeline.readings_totals() == (pipeline.expected_count, pytest.approx(pipeline.expected_sum))
        assert pipeline.readings_rows() == pipeline.reference_rows()
    finally:
        if worker is not None:
            worker.stop()
        pipeline.close()


def _all_topic_positions(pipeline: KafkaPipeline) -> Counter[int]:
    """How often each global position is on the all-events topic (read by a fresh group)."""
    consumer = pipeline.platform.log.consumer(f"audit-{uuid.uuid4().hex[:6]}", [TOPIC_ALL])
    seen: Counter[int] = Counter()
    head = pipeline.platform.store.head_position()
    deadline = time.monotonic() + GENEROUS_TIMEOUT_S
    try:
        while len(seen) < head:
            assert time.monotonic() < deadline, f"only {len(seen)} of {head} positions on {TOPIC_ALL}"
            seen.update(r.value.global_position for r in consumer.poll(500, 0.2))
        while batch := consumer.poll(500, 1.0):  # and whatever duplicates follow
            seen.update(r.value.global_position for r in batch)
    finally:
        consumer.close()
    return seen

