"""Embedded processors follow the store (:mod:`streams.follower`): bounded feed, own checkpoints."""

from __future__ import annotations

import collections
import threading

from domain.events import NewEvent
from domain.ports.event_store import EventStoreUnavailable
from infra.eventstore.memory import MemoryEventStore
from streams.append_watch import Seen
from streams.event_feed import EventFeed
from streams.follower import StoreFollower
from streams.runner import InProcessRunner
from streams.topics import all_topics


def store_with(events: int, stream=lambda i: f"sensordata-{i % 3}") -> MemoryEventStore:
    store = MemoryEventStore()
    for i in range(events):
        store.append(stream(i), [NewEvent(type="SensorDataRecorded", data={"i": i})])
    return store


def read(feed: EventFeed, after: int, limit: int) -> list:
    """Every event the feed hands over after ``after`` (at most ``limit``), of any topic."""
    return feed.read_topics(after, limit, frozenset(all_topics())).mine


class Recorder:
    """A processor that remembers what it was handed and where its checkpoint was moved."""

    name, topics = "recorder", ["flexledger.readings"]

    def __init__(self, checkpoint: int = 0):
        self.saved, self.handed, self.advanced = checkpoint, [], []

    def process(self, partition, events) -> int:
        self.handed.extend(e.global_position for e in events)
        self.saved = events[-1].global_position
        return self.saved

    def advance(self, partition, position) -> None:
        self.advanced.append(position)
        self.saved = max(self.saved, position)

    def checkpoint(self) -> int:
        return self.saved


class Clock:
    def __init__(self) -> None:
        self.now_s = 0.0

    def __call__(self) -> float:
        return self.now_s


def test_the_feed_keeps_a_bounded_window_and_serves_every_event_in_order() -> None:
    store = store_with(100)
    feed = EventFeed(store, batch_size=5, window_events=10)
    seen, position = [], 0
    while batch := read(feed, position, 5):
        assert feed.cached() <= 10
        seen.extend(e.global_position for e in batch)
        position = batch[-1].global_position
    assert seen == list(range(1, 101))
    behind = read(feed, 0, 7)  # behind the window: read from the store, same answer
    assert [e.global_position for e in behind] == list(range(1, 8))


def test_the_feed_window_is_bounded_in_values_too_and_reads_fewer_large_events() -> None:
    store = MemoryEventStore()
    for i in range(60):  # bulk-import shape: 1,000 values per event
        store.append(f"sensordata-{i % 3}", [NewEvent(type="SensorDataRecorded", data={"values": [1.0] * 1000})])
    feed = EventFeed(store, batch_size=50, window_events=1000, window_values=8000)
    seen, position, largest_read = [], 0, 0
    while batch := read(feed, position, 50):
        largest_read = max(largest_read, len(batch))
        assert feed.cached_values() <= 8000 + 1000 * len(batch), "the window holds more than its bound"
        seen.extend(e.global_position for e in batch)
        position = batch[-1].global_position
    assert seen == list(range(1, 61))
    assert feed.cached_values() <= 8000
    assert largest_read <= 50 and read(feed, 0, 50)[0].global_position == 1  # behind: from the store
    assert len(read(feed, 0, 50)) == 2, "a read of large events is cut to a quarter of the window's values"
    fresh = EventFeed(store, batch_size=50, window_values=8000)
    assert len(read(fresh, 0, 50)) == 1, "a fresh feed reads as if events were as large as they get"


def test_followers_share_reads_of_the_feed() -> None:
    store = store_with(30)
    feed = EventFeed(store, batch_size=100, window_values=4_000_000)  # a first read of up to 100 events
    first, second = read(feed, 0, 100), read(feed, 0, 100)
    assert [e.global_position for e in first] == list(range(1, 31))
    assert all(a is b for a, b in zip(first, second, strict=True)), "one read and one decode for both"


def test_a_busy_follower_applies_its_topics_and_saves_over_the_rest_only_every_so_many_events() -> None:
    store = store_with(12, stream=lambda i: "sensordata-1" if i < 4 else f"asset-{i}")
    clock, processor = Clock(), Recorder()
    follower = StoreFollower(processor, EventFeed(store), max_records=5, busy_save_events=10, monotonic=clock)
    stop = threading.Event()
    assert follower.step(stop)  # 1..5: four readings, one asset event
    assert processor.handed == [1, 2, 3, 4] and follower.position == 5
    clock.now_s += 5.0
    assert follower.step(stop)  # 6..10: nothing of ours; 10 events read: the checkpoint moves
    assert processor.advanced == [10] and processor.checkpoint() == 10
    assert follower.step(stop)  # 11..12: not saved while busy
    assert processor.advanced == [10]
    assert not follower.step(stop)  # nothing new, but not idle for a second yet
    assert processor.advanced == [10] and follower.applied == 4


def test_an_idle_follower_saves_after_a_second_and_a_restart_hands_nothing_again() -> None:
    store = store_with(6, stream=lambda i: f"asset-{i}")
    clock, processor = Clock(), Recorder()
    follower = StoreFollower(processor, EventFeed(store), idle_save_s=1.0, monotonic=clock)
    stop = threading.Event()
    while follower.step(stop):
        pass
    assert processor.advanced == [] and processor.handed == []  # idle, but not for a second yet
    clock.now_s += 1.0
    assert not follower.step(stop)
    assert processor.advanced == [6]
    clock.now_s += 5.0
    assert not follower.step(stop) and processor.advanced == [6], "nothing new: no second save"
    restarted = StoreFollower(processor, EventFeed(store), monotonic=Clock())
    assert restarted.position == 6 and not restarted.step(stop) and restarted.applied == 0


class FailingTwice:
    """The store, whose first two reads fail as an unreachable database would."""

    def __init__(self, store):
        self.store, self.failures = store, 2

    def read_all(self, *args, **kwargs):
        if self.failures:
            self.failures -= 1
            raise EventStoreUnavailable("TimeoutError: QueuePool limit reached")
        return self.store.read_all(*args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self.store, name)


def test_a_follower_survives_store_errors_and_goes_on() -> None:
    store, processor = store_with(7), Recorder()
    follower = StoreFollower(processor, EventFeed(FailingTwice(store)), idle_wait_s=0.01)
    stop = threading.Event()
    thread = threading.Thread(target=follower.run, args=(stop,), daemon=True)
    thread.start()
    try:
        assert follower.wait_for(7, timeout_s=30), "the follower stopped at the store's errors"
    finally:
        stop.set()
        thread.join(10)
    assert processor.handed == list(range(1, 8)) and follower.errors == 2


class CountingReads:
    """The store, counting ``read_all`` calls (``reads``: all, ``reads_by``: per thread)."""

    def __init__(self, store):
        self.store, self.reads, self.reads_by = store, 0, collections.Counter()

    def read_all(self, *args, **kwargs):
        self.reads += 1
        self.reads_by[threading.current_thread()] += 1
        return self.store.read_all(*args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self.store, name)


def test_followers_at_the_head_share_the_stores_nothing_new_for_a_while_without_the_feeds_thread() -> None:
    store, clock = CountingReads(store_with(3)), Clock()
    feed = EventFeed(store, head_recheck_s=0.1, monotonic=clock)
    assert [e.global_position for e in read(feed, 0, 10)] == [1, 2, 3]
    assert read(feed, 3, 10) == [] and store.reads == 2  # the head: the store is asked once...
    assert read(feed, 3, 10) == [] and read(feed, 3, 10) == [] and store.reads == 2  # ...for every follower there
    store.append("sensordata-1", [NewEvent(type="SensorDataRecorded", data={"i": 3})])
    clock.now_s += 0.05
    assert read(feed, 3, 10) == [] and store.reads == 2, "the recent answer stands"
    clock.now_s += 0.05
    assert [e.global_position for e in read(feed, 3, 10)] == [4], "asked again after head_recheck_s"


class TwoTopics(Recorder):
    """A processor of readings and registry events (as the charge sessions projection)."""

    topics = ["flexledger.readings", "flexledger.registry"]


def test_a_follower_gets_its_topics_events_in_order_and_counts_the_others() -> None:
    store = store_with(9, stream=lambda i: ["sensordata-1", "asset-1", "forecast-1"][i % 3])
    feed, processor, other = EventFeed(store), TwoTopics(), Recorder()
    other.topics = ["flexledger.forecasts"]
    follower, others = StoreFollower(processor, feed, max_records=5), StoreFollower(other, feed, max_records=5)
    stop = threading.Event()
    assert follower.step(stop) == 5 and processor.handed == [1, 2, 4, 5] and follower.position == 5
    assert follower.step(stop) == 4 and processor.handed == [1, 2, 4, 5, 7, 8] and follower.position == 9
    assert others.step(stop) == 5 and others.step(stop) == 4 and other.handed == [3, 6, 9]
    assert follower.applied == 6 and others.applied == 3


def test_the_feeds_thread_reads_each_append_once_wakes_its_topics_followers_and_moves_the_others() -> None:
    store = CountingReads(store_with(2))
    feed = EventFeed(store)
    readings, registry = Recorder(), Recorder()
    registry.topics = ["flexledger.registry"]
    reader, bystander = StoreFollower(readings, feed), StoreFollower(registry, feed)
    stop = threading.Event()
    assert reader.step(stop) == 2 and bystander.position == 2, "moved over the readings by the feed"
    thread = threading.Thread(target=feed.run, args=(stop,), daemon=True)
    thread.start()
    try:
        reads = store.reads_by[threading.current_thread()]
        waiting = threading.Thread(target=feed.wait_for_topics, args=(reader._subscriber, 2, 30.0), daemon=True)
        waiting.start()
        store.append("sensordata-1", [NewEvent(type="SensorDataRecorded", data={"i": 2})])
        waiting.join(30)
        assert not waiting.is_alive(), "the follower of readings was not woken"
        assert bystander.wait_for(3, timeout_s=30), "the registry's follower was not moved over the reading"
        assert bystander.step(stop) == 0 and registry.handed == [] and registry.advanced == []
        assert reader.step(stop) == 1 and readings.handed == [1, 2, 3]
        assert store.reads_by[threading.current_thread()] == reads, "the followers at the head asked the store"
    finally:
        stop.set()
        thread.join(10)


def test_a_watch_tells_of_its_topics_and_moves_a_poller_over_the_rest() -> None:
    store = store_with(2, stream=lambda i: f"asset-{i}")
    feed = EventFeed(store)
    StoreFollower(Recorder(), feed).step(threading.Event())  # the window starts where the followers are
    watch = feed.watch(["flexledger.commands"])
    assert watch.wait(0, 0.0) == Seen(True, 2), "without the feed's thread: every append is news"
    stop = threading.Event()
    thread = threading.Thread(target=feed.run, args=(stop,), daemon=True)
    thread.start()
    try:
        assert feed.running.wait(30)
        assert watch.wait(0, 0.0) == Seen(False, 2), "no command event up to 2"
        store.append("asset-9", [NewEvent(type="AssetRegistered", data={})])
        store.append("command-1", [NewEvent(type="DeviceCommandRequested", data={})])
        assert watch.wait(2, 30.0) == Seen(True, 4)
        assert watch.wait(4, 0.0) == Seen(False, 4)
    finally:
        stop.set()
        thread.join(10)


class HearsNothing:
    """The store as another process's appends reach it: ``wait_for_append`` hears of none."""

    def __init__(self, store):
        self.store = store

    def wait_for_append(self, after: int, timeout_s: float) -> bool:
        threading.Event().wait(timeout_s)
        return False

    def __getattr__(self, name: str):
        return getattr(self.store, name)


def test_the_feeds_thread_sees_appends_it_did_not_hear_of_within_head_recheck_s() -> None:
    store = store_with(2)
    feed, registry = EventFeed(HearsNothing(store), head_recheck_s=0.01), Recorder()
    registry.topics = ["flexledger.registry"]
    follower, stop = StoreFollower(registry, feed), threading.Event()
    assert follower.step(stop) == 2
    thread = threading.Thread(target=feed.run, args=(stop,), daemon=True)
    thread.start()
    try:
        store.append("sensordata-1", [NewEvent(type="SensorDataRecorded", data={"i": 2})])
        assert follower.wait_for(3, timeout_s=30), "another process's append was never read"
    finally:
        stop.set()
        thread.join(10)


def test_the_runner_runs_the_feeds_thread_and_its_stop_ends_followers_that_wait_long_for_their_topics() -> None:
    store, processor = store_with(3), Recorder()
    follower = StoreFollower(processor, EventFeed(store), idle_save_s=3600.0)  # would wait an hour for its topics
    runner = InProcessRunner(None, [follower], follower.feed)
    runner.start()
    threads = list(runner._threads)
    assert runner.wait_for(3, timeout_s=30) and processor.handed == [1, 2, 3]
    assert follower.feed.running.wait(30)
    store.append("sensordata-1", [NewEvent(type="SensorDataRecorded", data={"i": 3})])
    assert runner.wait_for(4, timeout_s=30) and processor.handed == [1, 2, 3, 4], "woken by its topic's append"
    runner.stop(timeout_s=30)
    assert not any(t.is_alive() for t in threads), "a follower waiting for its topics missed the stop"


def test_a_stopped_feed_keeps_no_event_alive_and_a_new_read_starts_a_new_window() -> None:
    """Something may still refer to a stopped platform's feed (a poller's watch): its window goes."""
    store, processor = store_with(3), Recorder()
    follower = StoreFollower(processor, EventFeed(store))
    runner = InProcessRunner(None, [follower], follower.feed)
    runner.start()
    assert runner.wait_for(3, timeout_s=30) and follower.feed.cached() == 3
    runner.stop(timeout_s=30)
    assert follower.feed.cached() == 0 and follower.feed.cached_values() == 0
    store.append("sensordata-1", [NewEvent(type="SensorDataRecorded", data={"i": 3})])
    assert [e.global_position for e in read(follower.feed, 2, 10)] == [3, 4]
