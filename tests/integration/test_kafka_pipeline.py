"""The distributed pipeline end to end: commands -> event store -> relay -> Kafka -> workers
-> PostgreSQL read model, on the real Kafka protocol (librdkafka's mock cluster).

* A worker (a real ``python -m infra.worker`` subprocess: the plain confluent-kafka runner,
  and the Faust runner) is SIGKILLed after it applied some batches, more readings are posted
  while it is down, and a new worker takes over: the readings table ends with exactly the
  appended values (row count and sum), identical row by row to the embedded path's rebuild.
* Records a worker applied but did not commit come again and are applied once (the
  projection's per-partition checkpoint, in the same transaction as the rows).
* Two workers in one group split the partitions (each applies some, none the same) and the
  read model equals the one-worker / embedded result.

The readings projection also drops unchanged beliefs, so row counts alone could hide a
second application; the re-delivery test therefore counts what the projection applies.
"""

from __future__ import annotations

import time

import pytest
from kafka_support import GENEROUS_TIMEOUT_S, KafkaPipeline, wait_until

from domain.ports.log import LogRecord
from infra.bootstrap import build_processors
from projections.readings import ReadingsProjection
from streams.projection_processor import ProjectionProcessor
from streams.topics import TOPIC_READINGS
from streams.worker import Worker

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


@pytest.fixture
def pipeline(tmp_path, kafka_mock_cluster, kafka_postgres_url):
    pipeline = KafkaPipeline(tmp_path, kafka_mock_cluster.bootstrap_servers, kafka_postgres_url)
    try:
        yield pipeline
    finally:
        pipeline.close()


@pytest.mark.parametrize("runner", ["confluent", "faust"])
def test_a_worker_killed_mid_stream_is_replaced_without_loss_or_double_count(pipeline: KafkaPipeline, runner):
    pipeline.register_sensors(12)
    pipeline.post_readings(posts_per_sensor=50)
    pipeline.start_relay()
    pipeline.wait_relayed()
    first = pipeline.spawn_worker(max_records=2, faust=runner == "faust")
    some_batches = pipeline.expected_count // 6  # readings of 100 events: 50 batches of 2
    wait_until(lambda: pipeline.readings_totals()[0] >= some_batches, "the first worker to apply batches", every_s=0.02)
    pipeline.kill(first)
    applied_before_kill = pipeline.readings_totals()[0]
    assert 0 < applied_before_kill < pipeline.expected_count, "killed mid-stream"

    pipeline.post_readings(posts_per_sensor=5)  # the relay keeps publishing while no worker runs
    pipeline.wait_relayed()
    second = pipeline.spawn_worker(max_records=200, faust=runner == "faust")
    pipeline.wait_for_readings(pipeline.expected_count, [second])
    pipeline.stop(second)  # SIGTERM: finishes its batch; nothing is in flight when we look

    assert pipeline.readings_totals() == (pipeline.expected_count, pytest.approx(pipeline.expected_sum))
    assert pipeline.readings_rows() == pipeline.reference_rows()


class CountingReadings(ReadingsProjection):
    """The readings projection, counting the events it is asked to apply."""

    def __init__(self):
        self.applied = 0

    def apply(self, conn, events):
        self.applied += len(events)
        super().apply(conn, events)


def test_records_applied_but_not_committed_come_again_and_are_applied_once(pipeline: KafkaPipeline):
    pipeline.register_sensors(3)
    pipeline.post_readings(posts_per_sensor=5)
    pipeline.start_relay()
    pipeline.wait_relayed()
    projection = CountingReadings()
    platform = pipeline.platform
    processor = ProjectionProcessor(
        projection, platform.read_models.write_engine, [TOPIC_READINGS], checkpoints=platform.checkpoints
    )
    events = 3 * 5

    first = pipeline.platform.log.consumer(processor.name, processor.topics)
    batch = _drain(first, events)
    _apply(processor, batch)
    first.close()  # as if killed before committing: for Kafka these records are not done
    assert projection.applied == events

    second = pipeline.platform.log.consumer(processor.name, processor.topics)
    again = _drain(second, events)
    assert {(r.topic, r.partition, r.offset) for r in again} == {(r.topic, r.partition, r.offset) for r in batch}
    _apply(processor, again)
    second.commit(again)
    second.close()

    assert projection.applied == events, "the checkpoint skipped every re-delivered event"
    assert pipeline.readings_totals() == (pipeline.expected_count, pytest.approx(pipeline.expected_sum))


def _drain(consumer, count: int) -> list[LogRecord]:
    out: list[LogRecord] = []
    deadline = time.monotonic() + GENEROUS_TIMEOUT_S
    while len(out) < count:
        assert time.monotonic() < deadline, f"only {len(out)} of {count} records arrived"
        out.extend(consumer.poll(500, timeout_s=0.2))
    return out


def _apply(processor: ProjectionProcessor, records: list[LogRecord]) -> None:
    by_partition: dict[str, list] = {}
    for r in records:
        by_partition.setdefault(f"{r.topic}:{r.partition}", []).append(r.value)
    for partition, events in by_partition.items():
        processor.process(partition, events)


def test_two_workers_in_one_group_split_the_partitions(pipeline: KafkaPipeline):
    pipeline.register_sensors(16)
    pipeline.post_readings(posts_per_sensor=10)
    readings = "projection.readings"
    workers = [Worker(pipeline.platform.log, build_processors(pipeline.platform), max_records=20) for _ in range(2)]
    try:
        for worker in workers:
            worker.start()
        partitions = pipeline.platform.log.partitions_of(TOPIC_READINGS)

        def split() -> bool:
            owned = [set(w.assignment().get(readings, [])) for w in workers]
            return all(owned) and not owned[0] & owned[1] and len(owned[0] | owned[1]) == partitions

        wait_until(split, "both workers to own readings partitions", every_s=0.2)
        pipeline.start_relay()
        pipeline.wait_for_readings(pipeline.expected_count)
    finally:
        for worker in workers:
            worker.stop()

    applied = [w.partitions()[readings] for w in workers]
    assert applied[0] and applied[1], "each worker applied some partitions"
    assert not applied[0] & applied[1], "no partition was applied by both"
    assert pipeline.readings_totals() == (pipeline.expected_count, pytest.approx(pipeline.expected_sum))
    assert pipeline.readings_rows() == pipeline.reference_rows(), "same read model as one worker / embedded"
