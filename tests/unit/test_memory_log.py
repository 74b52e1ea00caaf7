"""The in-process log (infra/log/memory.py): what it does beyond the log contract.

The port's contract (order per key, consumer groups, commits) is in tests/contract/test_log.py;
here: stable partitioning, round-robin assignment, rebalancing, offsets and wake-ups.
"""

from __future__ import annotations

import threading
import zlib

from domain.ports.log import LogRecord
from infra.log.memory import MemoryLog, partition_for

GENEROUS_TIMEOUT_S = 60.0


def records(topic: str, keys: list[str]) -> list[LogRecord]:
    return [LogRecord(topic=topic, key=key, value=i) for i, key in enumerate(keys)]


def test_partition_is_crc32_of_the_key():
    assert partition_for("sensordata-1", 4) == zlib.crc32(b"sensordata-1") % 4
    assert {partition_for(f"k{i}", 4) for i in range(100)} == {0, 1, 2, 3}
    assert partition_for("anything", 1) == 0


def test_publish_assigns_partition_and_offset():
    log = MemoryLog(partitions=3)
    keys = [f"k{i}" for i in range(12)]
    log.publish(records("t", keys))
    consumer = log.consumer("g", ["t"])
    got = consumer.poll(max_records=100, timeout_s=0)
    assert sorted(r.value for r in got) == list(range(12))
    for r in got:
        assert r.partition == partition_for(r.key, 3)
    ends = log.end_offsets("t")
    assert sum(ends) == 12
    for p in range(3):
        assert sorted(r.offset for r in got if r.partition == p) == list(range(ends[p]))


def test_one_partition_keeps_the_publish_order_of_all_keys():
    log = MemoryLog(partitions=1)
    log.publish(records("t", ["b", "a", "c", "a", "b"]))
    got = log.consumer("g", ["t"]).poll(timeout_s=0)
    assert [r.value for r in got] == [0, 1, 2, 3, 4]


def test_max_records_and_empty_poll():
    log = MemoryLog(partitions=2)
    consumer = log.consumer("g", ["t"])
    assert consumer.poll(timeout_s=0) == []
    log.publish(records("t", [f"k{i}" for i in range(10)]))
    first = consumer.poll(max_records=4, timeout_s=0)
    rest = consumer.poll(max_records=100, timeout_s=0)
    assert len(first) == 4 and len(rest) == 6
    assert {r.value for r in first + rest} == set(range(10))
    assert consumer.poll(timeout_s=0) == []


def test_members_get_topic_partitions_round_robin():
    log = MemoryLog(partitions=2)
    a, b, c = (log.consumer("g", ["t1", "t2"]) for _ in range(3))
    assert log.assignment(a) == [("t1", 0), ("t2", 1)]
    assert log.assignment(b) == [("t1", 1)]
    assert log.assignment(c) == [("t2", 0)]
    c.close()
    assert log.assignment(a) == [("t1", 0), ("t2", 0)] and log.assignment(b) == [("t1", 1), ("t2", 1)]


def test_after_a_member_leaves_the_rest_resume_from_committed_offsets():
    log = MemoryLog(partitions=2)
    log.publish(records("t", [f"k{i}" for i in range(20)]))
    a, b = log.consumer("g", ["t"]), log.consumer("g", ["t"])
    got_a, got_b = a.poll(timeout_s=0), b.poll(timeout_s=0)
    a.commit(got_a)
    a.close()  # rebalance: b takes a's partition from a's committed offset, and re-reads its own uncommitted
    again = b.poll(max_records=100, timeout_s=0)
    assert sorted(r.value for r in again) == sorted(r.value for r in got_b)


def test_commit_never_moves_an_offset_back():
    log = MemoryLog(partitions=1)
    log.publish(records("t", ["k"] * 5))
    consumer = log.consumer("g", ["t"])
    got = consumer.poll(timeout_s=0)
    consumer.commit(got[3:4])
    consumer.commit(got[:1])  # an older commit arriving late
    consumer.close()
    assert [r.value for r in log.consumer("g", ["t"]).poll(timeout_s=0)] == [4]


def test_a_waiting_poll_wakes_on_publish():
    log = MemoryLog(partitions=1)
    consumer = log.consumer("g", ["t"])
    result: list[LogRecord] = []
    # The poll timeout exceeds the test's patience: only a wake-up returns the record in time.
    poller = threading.Thread(target=lambda: result.extend(consumer.poll(timeout_s=10 * GENEROUS_TIMEOUT_S)))
    poller.start()
    log.publish(records("t", ["k"]))
    poller.join(GENEROUS_TIMEOUT_S)
    assert not poller.is_alive() and [r.value for r in result] == [0]


def test_close_wakes_waiting_polls():
    log = MemoryLog(partitions=1)
    consumer = log.consumer("g", ["t"])
    result: list[list[LogRecord]] = []
    waiting = threading.Thread(target=lambda: result.append(consumer.poll(timeout_s=10 * GENEROUS_TIMEOUT_S)))
    waiting.start()
    while not result and waiting.is_alive():
        log.close()  # repeated: the poll may not be waiting yet
        waiting.join(0.05)
    waiting.join(GENEROUS_TIMEOUT_S)
    assert result == [[]]
