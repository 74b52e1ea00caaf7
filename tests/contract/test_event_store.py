"""Contract of the event-store port (:mod:`domain.ports.event_store`), run against every adapter.

Adapters come from ``EVENT_STORE_ADAPTERS`` in ``tests/contract/conftest.py``. Every test
uses stream ids under its own ``stream_prefix`` and reads from the head it saw at the start,
so the suite also runs against a shared server. Global positions are only compared (the port
promises positive, strictly increasing positions); that they are exactly 1..N is checked for
adapters with ``consecutive_positions`` (the SQL stores). Concurrency tests open several
store instances on the same storage, as separate processes would.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from domain.events import DomainEvent, EventMetadata, NewEvent, RecordedEvent, register_event, register_upcaster
from domain.ports.event_store import (
    ANY,
    NO_STREAM,
    STREAM_EXISTS,
    EventStore,
    WrongExpectedRevision,
    subscribe,
)

GENEROUS_TIMEOUT_S = 60.0
"""Upper bound for things that should take milliseconds (never asserted as a duration)."""


@register_event
class ContractProbeRenamed(DomainEvent):
    """Test event at schema version 2; version 1 called ``label`` ``old_label``."""

    event_type = "ContractProbeRenamed"
    schema_version = 2
    label: str
    note: str


@register_upcaster("ContractProbeRenamed", 1)
def _probe_v1_to_v2(data: dict) -> dict:
    data = dict(data)
    return {"label": data.pop("old_label"), "note": "upcast", **data}


def new(kind: str = "Tested", **data) -> NewEvent:
    return NewEvent(type=kind, data=data)


def revisions(events: list[RecordedEvent]) -> list[int]:
    return [e.stream_revision for e in events]


# -- appending and reading one stream ----------------------------------------------------
def test_append_then_read_stream_forward(event_store: EventStore, stream_prefix: str):
    stream = f"{stream_prefix}-a"
    meta = EventMetadata(
        correlation_id="corr", causation_id="cause", actor="user:1", source="test",
        recorded_at=datetime(2024, 5, 1, 12, 30, tzinfo=UTC), traceparent="00-" + "1" * 32 + "-" + "2" * 16 + "-01",
    )
    first = [NewEvent(type="Tested", data={"n": 0, "text": "é ✓", "nested": {"x": [1.5, None]}}, metadata=meta)]
    result = event_store.append(stream, first, NO_STREAM)
    assert (result.stream_revision, result.appended) == (0, 1)
    result = event_store.append(stream, [new(n=i) for i in range(1, 5)], 0)
    assert (result.stream_revision, result.appended) == (4, 4)

    events = event_store.read_stream(stream)
    assert revisions(events) == [0, 1, 2, 3, 4]
    assert [e.data.get("n") for e in events] == [0, 1, 2, 3, 4]
    assert events[0].event_id == first[0].event_id and events[0].stream_id == stream
    assert events[0].data == {"n": 0, "text": "é ✓", "nested": {"x": [1.5, None]}}
    assert events[0].metadata == meta
    assert result.global_position == events[-1].global_position
    assert [e.global_position for e in events] == sorted({e.global_position for e in events})
    assert revisions(event_store.read_stream(stream, from_revision=2)) == [2, 3, 4]
    assert revisions(event_store.read_stream(stream, from_revision=1, limit=2)) == [1, 2]
    assert event_store.read_stream(stream, from_revision=5) == []
    assert event_store.stream_revision(stream) == 4


def test_read_stream_backward(event_store: EventStore, stream_prefix: str):
    stream = f"{stream_prefix}-a"
    event_store.append(stream, [new(n=i) for i in range(5)], NO_STREAM)
    assert revisions(event_store.read_stream(stream, from_revision=-1, backwards=True)) == [4, 3, 2, 1, 0]
    assert revisions(event_store.read_stream(stream, from_revision=2, backwards=True)) == [2, 1, 0]
    assert revisions(event_store.read_stream(stream, from_revision=-1, backwards=True, limit=2)) == [4, 3]
    assert revisions(event_store.read_stream(stream, from_revision=3, backwards=True, limit=2)) == [3, 2]


def test_missing_stream(event_store: EventStore, stream_prefix: str):
    assert event_store.read_stream(f"{stream_prefix}-none") == []
    assert event_store.stream_revision(f"{stream_prefix}-none") is None
    assert event_store.get_event(uuid.uuid4()) is None
    with pytest.raises(ValueError):
        event_store.append(f"{stream_prefix}-none", [], ANY)


def test_get_event_and_head_position(event_store: EventStore, stream_prefix: str, store_adapter):
    base = event_store.head_position()
    events = [new(n=i) for i in range(3)]
    result = event_store.append(f"{stream_prefix}-a", events, NO_STREAM)
    stored = event_store.read_stream(f"{stream_prefix}-a")
    positions = [e.global_position for e in stored]
    assert base < positions[0] < positions[1] < positions[2] == result.global_position
    assert event_store.head_position() == positions[2]
    assert event_store.get_event(events[1].event_id) == stored[1]
    if store_adapter.consecutive_positions:
        assert positions == [base + 1, base + 2, base + 3]


# -- optimistic concurrency ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("existing", "expected", "accepted"),
    [
        (0, NO_STREAM, True), (0, STREAM_EXISTS, False), (0, ANY, True), (0, 0, False), (0, -1, False),
        (2, NO_STREAM, False), (2, STREAM_EXISTS, True), (2, ANY, True), (2, 1, True), (2, 0, False), (2, 2, False),
    ],
)
def test_expected_revision(event_store: EventStore, stream_prefix: str, existing: int, expected, accepted: bool):
    stream = f"{stream_prefix}-a"
    if existing:
        event_store.append(stream, [new(n=i) for i in range(existing)], NO_STREAM)
    before = event_store.read_stream(stream)
    head = event_store.head_position()
    batch = [new(n=10), new(n=11)]
    if accepted:
        result = event_store.append(stream, batch, expected)
        assert (result.stream_revision, result.appended) == (existing + 1, 2)
        return
    with pytest.raises(WrongExpectedRevision) as caught:
        event_store.append(stream, batch, expected)
    assert caught.value.stream_id == stream
    assert caught.value.actual == (existing - 1 if existing else None)
    assert caught.value.code == "WRONG_EXPECTED_REVISION"
    assert event_store.read_stream(stream) == before, "a refused append stores nothing"
    assert event_store.head_position() == head
    assert all(event_store.get_event(e.event_id) is None for e in batch)


def run_threads(targets: list[Callable[[], None]]) -> None:
    """Run callables in threads started together; re-raise the first error."""
    barrier, errors = threading.Barrier(len(targets)), []

    def wrap(target):
        def run():
            try:
                barrier.wait()
                target()
            except BaseException as exc:  # re-raised in the test thread
                errors.append(exc)

        return run

    threads = [threading.Thread(target=wrap(t)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(GENEROUS_TIMEOUT_S)
    assert not any(t.is_alive() for t in threads), "writer threads did not finish"
    if errors:
        raise errors[0]


def idle_wait(stores: list[EventStore]) -> None:
    """Let each store wait for appends once, as a live subscription does between appends:
    waiting must leave the store's connections fit for atomic, serialised appends."""
    for store in stores:
        store.wait_for_append(store.head_position(), 0.01)


def test_racing_writers_on_one_stream_exactly_one_wins(open_event_store, stream_prefix: str):
    stores = [open_event_store() for _ in range(2)]
    idle_wait(stores)
    for round_ in range(5):
        stream = f"{stream_prefix}-race{round_}"
        stores[0].append(stream, [new(n=0)], NO_STREAM)
        outcomes: list[str] = []

        def writer(store: EventStore, i: int, stream: str = stream, outcomes: list = outcomes):
            try:
                store.append(stream, [new(writer=i), new(writer=i)], 0)
                outcomes.append(f"won:{i}")
            except WrongExpectedRevision:
                outcomes.append("lost")

        run_threads([lambda i=i: writer(stores[i % 2], i) for i in range(6)])
        winners = [o for o in outcomes if o.startswith("won")]
        assert len(winners) == 1 and outcomes.count("lost") == 5
        stored = stores[1].read_stream(stream)
        assert revisions(stored) == [0, 1, 2]
        assert {e.data.get("writer") for e in stored[1:]} == {int(winners[0].split(":")[1])}


def test_many_writers_positions_strictly_increasing_without_gaps(open_event_store, stream_prefix: str, store_adapter):
    stores = [open_event_store() for _ in range(3)]
    idle_wait(stores)
    base = stores[0].head_position()
    writers, appends_each = 8, 25
    sent: dict[str, list[uuid.UUID]] = defaultdict(list)
    reader_seen: list[RecordedEvent] = []
    writers_done = threading.Event()

    def writer(i: int):
        stream = f"{stream_prefix}-w{i}"
        for j in range(appends_each):
            batch = [new(writer=i, seq=j, k=k) for k in range(1 + j % 3)]
            sent[stream].extend(e.event_id for e in batch)
            stores[i % 3].append(stream, batch, ANY)

    def reader():
        """Polls while writers run: must never see a gap that is filled later."""
        position = base
        while True:
            finished = writers_done.is_set()
            batch = stores[2].read_all(position, limit=50)
            reader_seen.extend(batch)
            position = batch[-1].global_position if batch else position
            if finished and not batch:
                return

    reader_thread = threading.Thread(target=reader)
    reader_thread.start()
    try:
        run_threads([lambda i=i: writer(i) for i in range(writers)])
    finally:
        writers_done.set()
        reader_thread.join(GENEROUS_TIMEOUT_S)

    total = sum(len(ids) for ids in sent.values())
    stored = read_everything(stores[0], base, stream_prefix=f"{stream_prefix}-")
    positions = [e.global_position for e in stored]
    assert len(stored) == total and positions == sorted(set(positions)) and positions[0] > base
    assert [e.event_id for e in reader_seen if e.stream_id.startswith(stream_prefix)] == [
        e.event_id for e in stored
    ], "the polling reader saw every event: no gap it passed was filled later"
    if store_adapter.consecutive_positions:
        assert positions == list(range(base + 1, base + total + 1))
        assert [e.global_position for e in reader_seen] == positions
    assert Counter(e.event_id for e in stored) == Counter(i for ids in sent.values() for i in ids)
    for stream, ids in sent.items():
        in_stream = [e for e in stored if e.stream_id == stream]
        assert [e.event_id for e in in_stream] == ids, "per-stream order kept"
        assert revisions(in_stream) == list(range(len(ids)))
        assert revisions(stores[1].read_stream(stream)) == list(range(len(ids)))


def read_everything(store: EventStore, after: int, **filters) -> list[RecordedEvent]:
    out: list[RecordedEvent] = []
    while batch := store.read_all(after, limit=97, **filters):
        out.extend(batch)
        after = batch[-1].global_position
    return out


# -- idempotency ------------------------------------------------------------------------------
def test_reappending_the_same_event_id_stores_it_once(event_store: EventStore, stream_prefix: str):
    stream = f"{stream_prefix}-a"
    e1, e2, e3, e4 = new(n=1), new(n=2), new(n=3), new(n=4)
    first = event_store.append(stream, [e1, e2], NO_STREAM)
    retry = event_store.append(stream, [e1, e2], NO_STREAM)  # a retry: expected revision not re-checked
    assert retry.appended == 0
    assert (retry.stream_revision, retry.global_position) == (first.stream_revision, first.global_position)
    mixed = event_store.append(stream, [e2, e3], 1)
    assert (mixed.appended, mixed.stream_revision) == (1, 2)
    within = event_store.append(stream, [e4, e4, e3], 2)
    assert (within.appended, within.stream_revision) == (1, 3)
    stored = event_store.read_stream(stream)
    assert [e.event_id for e in stored] == [e1.event_id, e2.event_id, e3.event_id, e4.event_id]
    assert revisions(stored) == [0, 1, 2, 3]
    assert mixed.global_position == stored[2].global_position
    assert within.global_position == stored[3].global_position == event_store.head_position()


def test_a_large_reappend_stores_only_its_new_events(event_store: EventStore, stream_prefix: str):
    """More ids in one append than SQLite once took parameters in one statement (999); within
    KurrentDB's idempotency window (the stream's last 1,000 events)."""
    stream = f"{stream_prefix}-a"
    events = [new(n=n) for n in range(1100)]
    event_store.append(stream, events[:600], NO_STREAM)
    again = event_store.append(stream, events, 599)
    assert (again.appended, again.stream_revision) == (500, 1099)
    assert event_store.append(stream, events[100:][::-1], ANY).appended == 0
    assert [e.event_id for e in event_store.read_stream(stream)] == [e.event_id for e in events]


def test_racing_appends_of_one_event_id_store_it_once(open_event_store, stream_prefix: str):
    stores = [open_event_store() for _ in range(2)]
    event = new(n=1)
    run_threads([lambda i=i: stores[i % 2].append(f"{stream_prefix}-a", [event], ANY) for i in range(6)])
    assert [e.event_id for e in stores[0].read_stream(f"{stream_prefix}-a")] == [event.event_id]


# -- reading all --------------------------------------------------------------------------------
def test_read_all_from_a_position_and_filtered(event_store: EventStore, stream_prefix: str):
    base = event_store.head_position()
    p = stream_prefix
    # the positions used below are ones the store returned: no arithmetic on positions
    event_store.append(f"{p}order-1", [new("Placed", n=1), new("Paid", n=2)], NO_STREAM)
    event_store.append(f"{p}invoice-1", [new("Placed", n=3)], NO_STREAM)
    event_store.append(f"{p}order-2", [new("Placed", n=4), new("Shipped", n=5)], NO_STREAM)
    event_store.append(f"{p}order_x-3", [new("Paid", n=6)], NO_STREAM)  # "_" is no wildcard

    def ns(events):
        return [e.data["n"] for e in events if e.stream_id.startswith(p)]

    everything = event_store.read_all(base, stream_prefix=p)
    assert ns(everything) == [1, 2, 3, 4, 5, 6]
    position = [e.global_position for e in everything]
    assert ns(event_store.read_all(position[1])) == [3, 4, 5, 6]
    assert ns(event_store.read_all(position[0], limit=2, stream_prefix=p)) == [2, 3]
    assert event_store.read_all(position[5], stream_prefix=p) == []
    assert ns(read_everything(event_store, base, types=["Placed"])) == [1, 3, 4]
    assert ns(read_everything(event_store, base, types=["Paid", "Shipped"])) == [2, 5, 6]
    assert ns(event_store.read_all(base, stream_prefix=f"{p}order-")) == [1, 2, 4, 5]
    assert ns(event_store.read_all(base, stream_prefix=f"{p}order")) == [1, 2, 4, 5, 6]
    assert ns(event_store.read_all(position[0], types=["Placed"], stream_prefix=f"{p}order-")) == [4]
    assert ns(event_store.read_all(base, types=["Placed"], stream_prefix=f"{p}order-", limit=1)) == [1]
    assert event_store.read_all(base, types=["Nothing"], stream_prefix=p) == []


# -- subscriptions ---------------------------------------------------------------------------------
def collect(store: EventStore, after: int, until: Callable[[list[RecordedEvent]], bool], **options):
    """Run ``subscribe`` in a thread until ``until(seen)``; fail after a generous timeout."""
    seen: list[RecordedEvent] = []
    done, stop, errors = threading.Event(), threading.Event(), []

    def run():
        try:
            for batch in subscribe(store, after, stop=stop, **options):
                seen.extend(batch)
                if until(seen):
                    done.set()
                    return
        except BaseException as exc:  # re-raised in the test thread
            errors.append(exc)
            done.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    finished = done.wait(GENEROUS_TIMEOUT_S)
    stop.set()
    if errors:
        raise errors[0]
    assert finished, f"subscription stalled after {len(seen)} events"
    return seen


@pytest.mark.parametrize("filtered", [False, True], ids=["all", "filtered"])
def test_catch_up_subscription_sees_every_event_once_across_a_restart(
    open_event_store, stream_prefix: str, filtered: bool
):
    writer_store, first_store, second_store = (open_event_store() for _ in range(3))
    base = writer_store.head_position()
    wanted = {"types": ["Wanted"], "stream_prefix": f"{stream_prefix}-"} if filtered else {}
    sent: list[uuid.UUID] = []

    def write(i: int):
        for j in range(40):
            kind = "Wanted" if (not filtered or j % 3) else "Unwanted"
            event = new(kind, writer=i, seq=j)
            if kind == "Wanted":
                sent.append(event.event_id)
            writer_store.append(f"{stream_prefix}-w{i}", [event], ANY)

    writers = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for thread in writers:
        thread.start()
    try:
        first = collect(first_store, base, lambda seen: len(seen) >= 25, batch_size=7, idle_timeout_s=0.05, **wanted)
        restart_at = first[-1].global_position  # what the first run recorded as processed
    finally:
        for thread in writers:
            thread.join(GENEROUS_TIMEOUT_S)
    expected = len(sent)
    second = collect(
        second_store, restart_at, lambda seen: len(first) + len(seen) >= expected,
        batch_size=7, idle_timeout_s=0.05, **wanted,
    )
    seen = [e for e in first + second if e.stream_id.startswith(stream_prefix)]
    assert Counter(e.event_id for e in seen) == Counter(sent)
    positions = [e.global_position for e in seen]
    assert positions == sorted(set(positions))


class WaitSpy:
    """Delegates to a store; ``waiting`` is set once the subscription blocks for new events."""

    def __init__(self, store: EventStore):
        self.store, self.waiting = store, threading.Event()

    def __getattr__(self, name):
        return getattr(self.store, name)

    def wait_for_append(self, after_position: int, timeout_s: float) -> bool:
        self.waiting.set()
        return self.store.wait_for_append(after_position, timeout_s)


def test_live_subscription_wakes_up_on_append(event_store: EventStore, stream_prefix: str):
    event_store.append(f"{stream_prefix}-a", [new(n=0)], NO_STREAM)
    head = event_store.head_position()
    spy = WaitSpy(event_store)
    appended = new(n=1)

    def append_once_waiting():
        assert spy.waiting.wait(GENEROUS_TIMEOUT_S)
        event_store.append(f"{stream_prefix}-a", [appended], 0)

    appender = threading.Thread(target=append_once_waiting, daemon=True)
    appender.start()
    # The idle timeout exceeds the test's patience: only a wake-up delivers the event in time.
    seen = collect(spy, head, lambda seen: bool(seen), idle_timeout_s=10 * GENEROUS_TIMEOUT_S)
    appender.join(GENEROUS_TIMEOUT_S)
    assert [e.event_id for e in seen] == [appended.event_id]


# -- schema evolution ------------------------------------------------------------------------------
def test_old_schema_versions_are_upcast_on_read_never_rewritten(event_store: EventStore, stream_prefix: str):
    stream = f"{stream_prefix}-probe"
    base = event_store.head_position()
    old = NewEvent(type="ContractProbeRenamed", schema_version=1, data={"old_label": "kept"})
    current = NewEvent.of(ContractProbeRenamed(label="new", note="as written"))
    event_store.append(stream, [old, current], NO_STREAM)

    stored_old, stored_current = event_store.read_stream(stream)
    assert (stored_old.schema_version, stored_old.data) == (1, {"old_label": "kept"})
    assert stored_old.decode() == ContractProbeRenamed(label="kept", note="upcast")
    assert stored_current.schema_version == 2
    assert stored_current.decode() == ContractProbeRenamed(label="new", note="as written")
    fetched = event_store.get_event(old.event_id)
    assert fetched is not None and fetched.decode() == ContractProbeRenamed(label="kept", note="upcast")
    via_all = event_store.read_all(base, limit=1, stream_prefix=stream)
    assert via_all[0].decode() == ContractProbeRenamed(label="kept", note="upcast")
