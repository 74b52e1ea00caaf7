"""Pollers read the store only when their watch tells of news (:mod:`streams.append_watch`)."""

from __future__ import annotations

import threading

from commands.context import CommandContext
from domain.events import NewEvent
from infra.eventstore.memory import MemoryEventStore
from infra.webhooks import SqlWebhookStore
from streams.append_watch import Seen, read_news
from streams.command_dispatcher import CommandDispatcher
from streams.schedule_setpoints import ScheduleSetpoints
from streams.webhooks import WebhookDispatcher


class CountingStore:
    """The store, counting ``read_all`` calls."""

    def __init__(self, store):
        self.store, self.reads = store, 0

    def read_all(self, *args, **kwargs):
        self.reads += 1
        return self.store.read_all(*args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self.store, name)


class ScriptedWatch:
    """An append watch answering with ``answers`` in turn, then stopping the poller."""

    def __init__(self, stop: threading.Event, answers: list[Seen]):
        self.stop, self.answers, self.asked = stop, list(answers), []

    def wait(self, after: int, timeout_s: float) -> Seen:
        self.asked.append(after)
        if not self.answers:
            self.stop.set()
            return Seen(False, after)
        return self.answers.pop(0)


def store_with_commands_and_assets() -> MemoryEventStore:
    store = MemoryEventStore()
    for i in range(3):
        store.append(f"asset-{i}", [NewEvent(type="AssetRegistered", data={})])
    store.append("command-x", [NewEvent(type="Unrelated", data={})])
    return store


def test_news_are_read_and_no_news_moves_without_a_read() -> None:
    store = CountingStore(store_with_commands_and_assets())
    assert read_news(store, "command-", 0, Seen(False, 3), 10) == ([], 3, False) and store.reads == 0
    batch, reached, full = read_news(store, "command-", 0, Seen(True, 4), 10)
    assert [e.global_position for e in batch] == [4] and (reached, full) == (4, False) and store.reads == 1
    assert read_news(store, "asset-", 0, Seen(True, 4), 2)[1:] == (2, True), "full: on from the last event read"
    assert read_news(store, "asset-", 2, Seen(True, 4), 2)[1:] == (4, False), "not full: up to what was seen"


def test_the_command_dispatcher_reads_only_when_told_of_command_events() -> None:
    store, stop = CountingStore(store_with_commands_and_assets()), threading.Event()
    dispatcher = CommandDispatcher(CommandContext(store), {})
    dispatcher.appends = ScriptedWatch(stop, [Seen(False, 9), Seen(False, 12)])
    dispatcher.run(stop)
    assert store.reads == 1, "read once at the start, then never: no command events"
    assert dispatcher.appends.asked == [4, 9, 12] and dispatcher.position == 12


def test_the_schedule_setpoints_read_only_when_told_of_schedule_events() -> None:
    store, stop = CountingStore(store_with_commands_and_assets()), threading.Event()
    setpoints = ScheduleSetpoints(CommandContext(store))
    setpoints.appends = ScriptedWatch(stop, [Seen(False, 7), Seen(True, 8), Seen(False, 8)])
    setpoints.run(stop)
    assert store.reads == 2 and setpoints.appends.asked == [0, 7, 8, 8] and setpoints.position == 8


class CountingWebhooks:
    """The webhook store, counting ``list`` calls."""

    def __init__(self, store):
        self.store, self.lists = store, 0

    def list(self, *args, **kwargs):
        self.lists += 1
        return self.store.list(*args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self.store, name)


def test_without_webhooks_the_dispatcher_lists_them_only_every_interval(tmp_path) -> None:
    events, stop = MemoryEventStore(), threading.Event()
    webhooks = SqlWebhookStore.sqlite(tmp_path / "webhooks.db")
    webhooks.create_tables()
    counted = CountingWebhooks(webhooks)
    appends = ScriptedWatch(stop, [Seen(True, 1), Seen(True, 2), Seen(False, 2), Seen(True, 3)])
    WebhookDispatcher(events, counted, sender=lambda *_: 200, appends=appends).run(stop)
    assert counted.lists == 2, "listed at the start and once the interval passed, not after each append"
    assert appends.asked == [0, 1, 2, 2, 3]
    webhooks.close()
