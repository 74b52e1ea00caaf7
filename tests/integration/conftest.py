"""Fixtures of the integration tests on the Kafka protocol and PostgreSQL.

* ``kafka_mock_cluster`` — librdkafka's mock cluster (a real Kafka-protocol broker inside
  this process, started by a ``confluent_kafka.Producer`` with ``test.mock.num.brokers``).
  It lives as long as that producer object, which the fixture holds for the test. Topics are
  auto-created with 4 partitions (the mock has no CreateTopics); consumer groups work, with a
  join delay of about 3 s.
* ``kafka_postgres_url`` — a fresh PostgreSQL database for the test (dropped afterwards); skips
  with the reason when ``FLEXLEDGER_TEST_POSTGRES_URL`` is unset.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from confluent_kafka import Producer
from pg import SKIP_REASON, postgres_base_url, temporary_postgres_url


@dataclass(frozen=True)
class MockKafkaCluster:
    """A running mock cluster: ``bootstrap_servers`` is ``127.0.0.1:PORT``."""

    bootstrap_servers: str
    keeper: Producer
    """The producer that owns the cluster: the cluster stops when it is garbage-collected."""


def start_mock_cluster() -> MockKafkaCluster:
    keeper = Producer({"test.mock.num.brokers": 1, "bootstrap.servers": "unused:1", "log_level": 3})
    brokers = keeper.list_topics(timeout=5).brokers.values()
    return MockKafkaCluster(",".join(f"{b.host}:{b.port}" for b in brokers), keeper)


@pytest.fixture
def kafka_mock_cluster() -> Iterator[MockKafkaCluster]:
    yield start_mock_cluster()


@pytest.fixture
def kafka_postgres_url() -> Iterator[str]:
    if postgres_base_url() is None:
        pytest.skip(SKIP_REASON)
    with temporary_postgres_url() as url:
        yield url
