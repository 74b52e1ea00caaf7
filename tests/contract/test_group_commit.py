"""Group commit of the SQL event stores (:class:`infra.eventstore.sql.SqlEventStore`).

Appends queued while another commit holds the store's writer lock are committed together in
one transaction. The tests hold that lock themselves, queue appends from threads one at a
time (so the arrival order is known), release it and check that the group committed once,
in arrival order, durably (a second store instance reads it), with each append's own
idempotency and expected-revision checks, and that one failing append fails no other.
"""

from __future__ import annotations

import threading
import time
import uuid

import sqlalchemy as sa

from domain.events import NewEvent
from domain.ports.event_store import ANY, NO_STREAM, AppendResult, WrongExpectedRevision
from infra.eventstore.sql import SqlEventStore

GENEROUS_TIMEOUT_S = 60.0
"""Upper bound for things that take milliseconds (never asserted as a duration)."""


def new(**data) -> NewEvent:
    return NewEvent(type="Tested", data=data)


class QueuedAppends:
    """Appends started in threads while the test holds the store's writer lock."""

    def __init__(self, store: SqlEventStore):
        self.store = store
        self.outcomes: list[AppendResult | Exception | None] = []
        self._threads: list[threading.Thread] = []

    def add(self, stream_id: str, events: list[NewEvent], expected=ANY) -> None:
        """Start one append and wait until it is queued (so queue order = call order)."""
        index = len(self.outcomes)
        self.outcomes.append(None)

        def run() -> None:
            try:
                self.outcomes[index] = self.store.append(stream_id, events, expected)
            except Exception as exc:  # noqa: BLE001 - inspected by the test
                self.outcomes[index] = exc

        queued = len(self.store._pending) + 1
        thread = threading.Thread(target=run)
        thread.start()
        self._threads.append(thread)
        deadline = time.monotonic() + GENEROUS_TIMEOUT_S
        while len(self.store._pending) < queued:
            assert time.monotonic() < deadline, "append was not queued"
            time.sleep(0.001)

    def join(self) -> None:
        for thread in self._threads:
            thread.join(GENEROUS_TIMEOUT_S)
            assert not thread.is_alive()


def count_commits(store: SqlEventStore) -> list[int]:
    """A one-element list counting the store engine's commits from now on."""
    commits = [0]

    @sa.event.listens_for(store.engine, "commit")
    def _on_commit(_conn) -> None:
        commits[0] += 1

    return commits


def test_concurrent_appends_commit_together_in_arrival_order_and_durably(open_store):
    store = open_store()
    commits = count_commits(store)
    queued = QueuedAppends(store)
    with store._writer:
        for i in range(6):
            queued.add(f"stream-{i % 2}", [new(i=i, part=0), new(i=i, part=1)])
        assert all(outcome is None for outcome in queued.outcomes), "acknowledged before the commit"
    queued.join()
    assert commits == [1]
    assert [o.global_position for o in queued.outcomes] == [2, 4, 6, 8, 10, 12]
    assert [o.stream_revision for o in queued.outcomes] == [1, 1, 3, 3, 5, 5]
    stored = open_store().read_all(0, 100)  # another instance: what is on disk
    assert [(e.data["i"], e.data["part"]) for e in stored] == [(i, part) for i in range(6) for part in (0, 1)]
    assert [e.global_position for e in stored] == list(range(1, 13))


def test_a_repeated_event_id_in_one_group_is_stored_once(open_store):
    store = open_store()
    same = new(x=1)
    queued = QueuedAppends(store)
    with store._writer:
        queued.add("s", [same])
        queued.add("s", [same])
        queued.add("s", [new(x=2), same])
    queued.join()
    first, again, mixed = queued.outcomes
    assert (first.appended, again.appended, mixed.appended) == (1, 0, 1)
    assert again.global_position == first.global_position
    assert [e.data for e in store.read_stream("s")] == [{"x": 1}, {"x": 2}]


def test_a_refused_append_leaves_the_rest_of_its_group_committed(open_store):
    store = open_store()
    queued = QueuedAppends(store)
    with store._writer:
        queued.add("s", [new(n=0)], NO_STREAM)
        queued.add("s", [new(n=1)], NO_STREAM)  # the stream exists by then: refused
        queued.add("t", [new(n=2)], NO_STREAM)
    queued.join()
    won, lost, other = queued.outcomes
    assert isinstance(lost, WrongExpectedRevision)
    assert (won.global_position, other.global_position) == (1, 2)
    assert [e.data["n"] for e in open_store().read_all(0, 10)] == [0, 2]


def test_a_failing_append_fails_no_other_append_of_its_group(open_store):
    store = open_store()
    queued = QueuedAppends(store)
    with store._writer:
        queued.add("s", [new(n=0)])
        queued.add("s", [new(n=object())])  # not serialisable: fails the group's transaction
        queued.add("s", [new(n=2)])
    queued.join()
    good, bad, also_good = queued.outcomes
    assert isinstance(bad, TypeError)
    assert isinstance(good, AppendResult) and isinstance(also_good, AppendResult)
    assert [e.data["n"] for e in open_store().read_stream("s")] == [0, 2]


def test_an_idle_store_commits_a_lone_append_at_once(open_store):
    store = open_store()
    commits = count_commits(store)
    result = store.append(f"s-{uuid.uuid4()}", [new(n=1)])
    assert result.appended == 1 and commits == [1]
