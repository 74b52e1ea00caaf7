"""Contract of the log port (:mod:`domain.ports.log`), run against every adapter.

Adapters come from ``LOG_ADAPTERS`` in ``tests/contract/conftest.py``. Each test uses its own
topic and group names, so a shared broker is fine. Record values are ``RecordedEvent``\\ s, as
the relay publishes them. Waiting is bounded by a generous timeout, never asserted on.

The contract is the port's (:mod:`domain.ports.log`): no loss, order per key, every record once
while a group is stable, duplicates only around a rebalance.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections import Counter, defaultdict

import pytest

from domain.events import EventMetadata, RecordedEvent
from domain.ports.log import Log, LogConsumer, LogRecord

GENEROUS_TIMEOUT_S = 60.0


@pytest.fixture
def topic() -> str:
    return f"contract.{uuid.uuid4().hex[:12]}"


@pytest.fixture
def group() -> str:
    return f"group-{uuid.uuid4().hex[:12]}"


def record(topic: str, key: str, seq: int) -> LogRecord:
    event = RecordedEvent(
        event_id=uuid.uuid4(), stream_id=key, stream_revision=seq, global_position=seq + 1, type="Tested",
        schema_version=1, data={"key": key, "seq": seq}, metadata=EventMetadata(),
    )
    return LogRecord(topic=topic, key=key, value=event, headers={"event_type": "Tested", "seq": str(seq)})


def publish_keyed(log: Log, topic: str, keys: int, per_key: int, batch: int = 7) -> list[LogRecord]:
    """Publish ``per_key`` records for each of ``keys`` keys, interleaved, in several calls."""
    records = [record(topic, f"stream-{k}", seq) for seq in range(per_key) for k in range(keys)]
    for i in range(0, len(records), batch):
        log.publish(records[i : i + batch])
    return records


def ident(r: LogRecord) -> tuple[str, int]:
    return r.value.data["key"], r.value.data["seq"]


def drain(consumer: LogConsumer, count: int, commit: bool = False, max_records: int = 500) -> list[LogRecord]:
    """Poll until ``count`` records arrived (committing each batch if asked); fail after a timeout."""
    out: list[LogRecord] = []
    deadline = time.monotonic() + GENEROUS_TIMEOUT_S
    while len(out) < count:
        assert time.monotonic() < deadline, f"only {len(out)} of {count} records arrived"
        batch = consumer.poll(max_records=max_records, timeout_s=0.2)
        if batch and commit:
            consumer.commit(batch)
        out.extend(batch)
    return out


def test_keyed_records_keep_per_key_order(log: Log, topic: str, group: str):
    published = publish_keyed(log, topic, keys=10, per_key=20)
    consumer = log.consumer(group, [topic])
    try:
        received = drain(consumer, len(published))
    finally:
        consumer.close()
    assert Counter(ident(r) for r in received) == Counter(ident(r) for r in published)
    per_key: dict[str, list[int]] = defaultdict(list)
    partitions: dict[str, set[int]] = defaultdict(set)
    offsets: dict[int, list[int]] = defaultdict(list)
    for r in received:
        per_key[r.key].append(r.value.data["seq"])
        partitions[r.key].add(r.partition)
        offsets[r.partition].append(r.offset)
        assert r.topic == topic and r.headers["seq"] == str(r.value.data["seq"])
    assert all(seqs == list(range(20)) for seqs in per_key.values())
    assert all(len(p) == 1 for p in partitions.values()), "one key, one partition"
    assert all(o == sorted(set(o)) for o in offsets.values()), "offsets increase within a partition"


def test_a_new_group_reads_from_the_start(log: Log, topic: str, group: str):
    published = publish_keyed(log, topic, keys=3, per_key=5)
    early = log.consumer(group, [topic])
    try:
        assert len(drain(early, len(published), commit=True)) == len(published)
    finally:
        early.close()
    late = log.consumer(f"{group}-new", [topic])
    try:
        assert Counter(ident(r) for r in drain(late, len(published))) == Counter(ident(r) for r in published)
    finally:
        late.close()


def test_committed_offsets_survive_close_and_reopen(log: Log, topic: str, group: str):
    published = publish_keyed(log, topic, keys=4, per_key=10)
    first = log.consumer(group, [topic])
    try:
        polled = drain(first, 1, max_records=10)
        committed = polled[:3]  # a prefix of what was polled: per partition, a prefix too
        first.commit(committed)
    finally:
        first.close()
    reopened = log.consumer(group, [topic])
    try:
        rest = drain(reopened, len(published) - len(committed), commit=True)
        assert reopened.poll(max_records=500, timeout_s=0.2) == [], "nothing beyond the remaining records"
    finally:
        reopened.close()
    expected = Counter(ident(r) for r in published) - Counter(ident(r) for r in committed)
    assert Counter(ident(r) for r in rest) == expected, "uncommitted records come again, committed ones never"


def poll_all(members: list[LogConsumer], seen: list[list[LogRecord]], count: int) -> None:
    """Poll every member (committing each batch) until ``count`` records arrived in all."""
    deadline = time.monotonic() + GENEROUS_TIMEOUT_S
    while sum(map(len, seen)) < count:
        assert time.monotonic() < deadline, f"only {sum(map(len, seen))} of {count} records arrived"
        for i, member in enumerate(members):
            batch = member.poll(max_records=10, timeout_s=0.1)
            member.commit(batch)
            seen[i].extend(batch)


def wait_for_stable_split(members: list[LogConsumer], topic: str, partitions: int) -> None:
    """Poll (nothing is published yet) until the members own disjoint, non-empty sets of
    partitions that cover the topic: the group's rebalance is over."""
    deadline = time.monotonic() + GENEROUS_TIMEOUT_S
    while True:
        owned = [set(member.assignment()) for member in members]
        if all(owned) and not set.intersection(*owned) and len(set.union(*owned)) == partitions:
            return
        assert time.monotonic() < deadline, f"the group did not settle: {owned}"
        for member in members:
            assert member.poll(max_records=10, timeout_s=0.1) == []


def test_two_members_of_a_stable_group_split_partitions_and_see_every_record_once(
    log: Log, topic: str, group: str
):
    members = [log.consumer(group, [topic]) for _ in range(2)]
    seen: list[list[LogRecord]] = [[], []]
    try:
        wait_for_stable_split(members, topic, partitions=4)
        published = publish_keyed(log, topic, keys=40, per_key=5)
        poll_all(members, seen, len(published))
    finally:
        for member in members:
            member.close()
    together = seen[0] + seen[1]
    assert Counter(ident(r) for r in together) == Counter(ident(r) for r in published), "every record once"
    assert seen[0] and seen[1], "both members got work"
    assert not {r.partition for r in seen[0]} & {r.partition for r in seen[1]}, "partitions are split"


def test_a_member_joining_mid_stream_loses_nothing_and_keeps_per_key_order(log: Log, topic: str, group: str):
    """Around a rebalance records may come twice (at-least-once), never zero times; a member
    receives a key's records in order, or rewinds to the committed offset, never skips ahead."""
    published = publish_keyed(log, topic, keys=40, per_key=5)
    first = log.consumer(group, [topic])
    members, seen = [first], [drain(first, 10, commit=True, max_records=10)]
    try:
        members.append(log.consumer(group, [topic]))
        seen.append([])
        deadline = time.monotonic() + GENEROUS_TIMEOUT_S
        while {ident(r) for r in seen[0] + seen[1]} != {ident(r) for r in published}:
            assert time.monotonic() < deadline, "records were lost around the rebalance"
            poll_all(members, seen, sum(map(len, seen)) + 1)
    finally:
        for member in members:
            member.close()
    for received in seen:
        per_key: dict[str, list[int]] = defaultdict(list)
        for r in received:
            per_key[r.key].append(r.value.data["seq"])
        for seqs in per_key.values():
            assert all(b == a + 1 or b <= a for a, b in itertools.pairwise(seqs)), f"a key skipped ahead: {seqs}"


def test_two_groups_each_see_everything(log: Log, topic: str, group: str):
    published = publish_keyed(log, topic, keys=5, per_key=8)
    groups = [log.consumer(f"{group}-a", [topic]), log.consumer(f"{group}-b", [topic])]
    try:
        for consumer in groups:
            received = drain(consumer, len(published), commit=True)
            assert Counter(ident(r) for r in received) == Counter(ident(r) for r in published)
    finally:
        for consumer in groups:
            consumer.close()


def test_one_consumer_on_several_topics(log: Log, topic: str, group: str):
    published = publish_keyed(log, topic, keys=2, per_key=3) + publish_keyed(log, f"{topic}.b", keys=2, per_key=3)
    consumer = log.consumer(group, [topic, f"{topic}.b"])
    try:
        received = drain(consumer, len(published))
    finally:
        consumer.close()
    assert Counter((r.topic, *ident(r)) for r in received) == Counter((r.topic, *ident(r)) for r in published)


def test_poll_returns_records_published_while_waiting(log: Log, topic: str, group: str):
    publish_keyed(log, topic, keys=1, per_key=1)
    consumer = log.consumer(group, [topic])
    try:
        drain(consumer, 1, commit=True)
        late = record(topic, "stream-late", 0)
        publisher = threading.Thread(target=log.publish, args=([late],))
        publisher.start()
        received = drain(consumer, 1)
        publisher.join(GENEROUS_TIMEOUT_S)
    finally:
        consumer.close()
    assert [ident(r) for r in received] == [ident(late)]
