"""Read-back of a SQL event store's own appends (:meth:`infra.eventstore.sql.SqlEventStore.read_appended`).

Whatever the store holds of its last commits, ``read_appended(after, limit)`` must equal what
another store instance on the same storage reads from the table with ``read_all``: the same
events in the same order, with appends of other store instances (other processes) in between,
and never an append that was refused or rolled back.
"""

from __future__ import annotations

import threading

import pytest

from domain.events import EventMetadata, NewEvent
from domain.ports.event_store import NO_STREAM, WrongExpectedRevision
from infra.eventstore.postgres import PostgresEventStore
from infra.eventstore.recent_rows import RecentRows
from infra.eventstore.sql import SqlEventStore
from infra.eventstore.sqlite import SqliteEventStore
from infra.personal_data_store import SealingEventStore
from infra.personal_keys import PersonalDataCipher
from streams.event_feed import EventFeed, appended_reader
from streams.topics import all_topics

GENEROUS_TIMEOUT_S = 60.0
"""Upper bound for things that take milliseconds (never asserted as a duration)."""


def new(**data) -> NewEvent:
    return NewEvent(type="Tested", data=data, metadata=EventMetadata(actor="tester", correlation_id="c-1"))


def assert_reads_as_the_table(store: SqlEventStore, fresh: SqlEventStore, head: int) -> None:
    """Every (after, limit) read of ``store.read_appended`` equals ``fresh.read_all`` (the table)."""
    for after in range(head + 1):
        for limit in (1, 2, 3, 5, head + 1):
            assert store.read_appended(after, limit) == fresh.read_all(after, limit), (after, limit)


def test_reads_its_appends_and_another_instances_in_between_as_the_table_holds_them(open_store):
    store, other = open_store(), open_store()
    store.append("a-1", [new(n=0, values=[1.5, 2.0]), new(n=1, nested={"x": [1, None]})])
    other.append("b-1", [new(n=2)])  # a gap in what ``store`` holds
    store.append("a-1", [new(n=3)])
    store.append("a-2", [new(n=4), new(n=5)])
    other.append("b-1", [new(n=6), new(n=7)])
    store.append("a-2", [new(n=8)])
    assert len(store._recent) == 6
    fresh = open_store()
    head = fresh.head_position()
    assert head == 9
    assert [e.data["n"] for e in store.read_appended(0, 100)] == list(range(9))
    assert_reads_as_the_table(store, fresh, head)


def test_reads_past_its_last_commit_when_another_instance_appended_after_it(open_store):
    store, other = open_store(), open_store()
    store.append("a-1", [new(n=0), new(n=1)])
    other.append("b-1", [new(n=2)])
    store._saw_head(3) if isinstance(store, PostgresEventStore) else store._heard_of(3)  # as its watcher would
    assert [e.data["n"] for e in store.read_appended(0, 10)] == [0, 1, 2]


def test_refused_and_rolled_back_appends_are_never_read_back(open_store):
    store = open_store()
    store.append("s", [new(n=0)], NO_STREAM)
    with pytest.raises(WrongExpectedRevision):
        store.append("s", [new(n=1)], NO_STREAM)

    def failing_notify(conn, position):  # inside the transaction, after the inserts
        raise RuntimeError("the transaction fails after its inserts")

    store._notify = failing_notify
    with pytest.raises(RuntimeError):
        store.append("s", [new(n=2), new(n=3)])
    del store._notify
    store.append("t", [new(n=4)])
    assert len(store._recent) == 2
    fresh = open_store()
    assert [e.data["n"] for e in fresh.read_all(0, 10)] == [0, 4]
    assert_reads_as_the_table(store, fresh, 2)


def test_concurrent_appends_are_read_back_as_the_table_holds_them(open_store):
    store, other = open_store(), open_store()
    barrier = threading.Barrier(6)

    def append_some(writer: SqlEventStore, thread: int) -> None:
        barrier.wait(GENEROUS_TIMEOUT_S)
        for i in range(10):
            writer.append(f"s-{thread}", [new(thread=thread, i=i, part=p) for p in range(i % 3 + 1)])

    threads = [threading.Thread(target=append_some, args=(store if t < 5 else other, t)) for t in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(GENEROUS_TIMEOUT_S)
        assert not thread.is_alive()
    fresh = open_store()
    head = fresh.head_position()
    assert head == 6 * sum(i % 3 + 1 for i in range(10))
    read, after = [], 0
    while batch := store.read_appended(after, 7):
        read += batch
        after = batch[-1].global_position
    assert read == fresh.read_all(0, 1000)


def test_recent_rows_stop_at_a_gap_and_stay_within_their_bounds():
    def row(position: int, size: int = 10) -> tuple:
        return (position, "id", "s", 0, "T", 1, b"x" * size, b"{}", None)

    recent = RecentRows(max_rows=4, max_bytes=100)
    recent.add([row(1), row(2), row(4)])
    assert [r[0] for r in recent.run_after(0, 10)] == [1, 2]  # 3: another process's
    assert [r[0] for r in recent.run_after(0, 1)] == [1]
    assert recent.run_after(2, 10) == [] and [r[0] for r in recent.run_after(3, 10)] == [4]
    recent.add([row(5), row(6)])
    assert len(recent) == 4 and recent.run_after(0, 10) == []  # the oldest dropped: max_rows
    recent.add([row(7, size=80)])
    assert [r[0] for r in recent.run_after(5, 10)] == [6, 7] and len(recent) == 2  # max_bytes
    recent.add([row(8, size=500)])  # larger than the bound alone: not kept
    assert len(recent) == 0


class OneKey:
    """A key store holding one subject's key (the part of the key-store port sealing uses)."""

    def __init__(self) -> None:
        self.key = bytes(range(32))

    def key_for(self, subject: str, create: bool = False) -> bytes | None:
        return self.key

    def keys_for(self, subjects) -> dict[str, bytes]:
        return dict.fromkeys(subjects, self.key)


def test_the_feed_reads_through_a_decorator_as_the_decorator_reads(tmp_path):
    """A decorator forwarding unknown attributes (the sealing store) is read with its own
    ``read_all`` (personal fields opened), never with its inner store's ``read_appended``."""
    inner = SqliteEventStore(tmp_path / "events.db")
    inner.create_tables()
    try:
        store = SealingEventStore(inner, PersonalDataCipher(OneKey()))
        data = {"user_id": 1, "account_id": 1, "email": "alice@example.test", "username": "alice", "roles": []}
        store.append("user-1", [NewEvent(type="UserRegistered", schema_version=2, data=data)])
        assert appended_reader(inner) == inner.read_appended != appended_reader(store)
        batch = EventFeed(store).read_topics(0, 10, frozenset(all_topics()))
        assert batch.mine == store.read_all(0, 10) and batch.mine[0].data["email"] == "alice@example.test"
        assert inner.read_appended(0, 1)[0].data["email"] != "alice@example.test"  # sealed at rest
    finally:
        inner.close()
