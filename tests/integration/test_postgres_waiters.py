"""Many idle followers on the PostgreSQL event store neither exhaust its connection pool nor miss an append.

Each embedded processor follows the store in its own thread and, when idle, waits for the next
append (``wait_for_append``). The pool holds 20 connections (10 + 10 overflow); the platform runs
about twenty followers. Before the fix every waiter held a listening connection and checked out
a second one for the head, so twenty waiters starved each other and the pool timed out (30 s),
killing follower threads (seen in a full test run: the processors never caught up).

Here 30 waiters wait at once: the store must still answer other calls at once, and one append
must wake every waiter.
"""

from __future__ import annotations

import threading
import uuid

import pytest
from pg import SKIP_REASON, postgres_base_url, temporary_postgres_url
from stores import prepared

from domain.events import EventMetadata, NewEvent
from infra.eventstore.postgres import PostgresEventStore

WAITERS = 30
WAIT_S = 20.0

pytestmark = pytest.mark.postgres


@pytest.fixture
def store():
    if postgres_base_url() is None:
        pytest.skip(SKIP_REASON)
    with temporary_postgres_url() as url:
        store = prepared(PostgresEventStore(url))
        try:
            yield store
        finally:
            store.close()


def _event() -> NewEvent:
    return NewEvent(event_id=uuid.uuid4(), type="Noted", data={"n": 1}, metadata=EventMetadata(actor="test"))


def test_thirty_waiters_leave_the_pool_usable_and_all_wake_on_one_append(store) -> None:
    head = store.head_position()
    woke: list[bool] = []
    errors: list[BaseException] = []
    started = threading.Barrier(WAITERS + 1)

    def wait() -> None:
        started.wait()
        try:
            woke.append(store.wait_for_append(head, WAIT_S))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=wait) for _ in range(WAITERS)]
    for thread in threads:
        thread.start()
    started.wait()
    assert store.head_position() == head  # the pool still lends a connection while they wait
    store.append("note-1", [_event()])
    for thread in threads:
        thread.join(WAIT_S + 10)
    assert errors == []
    assert woke == [True] * WAITERS
