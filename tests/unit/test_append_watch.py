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


class Counting:
    """``target`` with the calls of its method ``name`` counted (``calls``)."""

    def __init__(self, target, name: str):
        self.target, self.name, self.calls = target, name, 0

    def __getattr__(self, name: str):
        attribute = getattr(self.target, name)
        if name != self.name:
            return attribute

        def counted(*args, **kwargs):
            self.calls += 1
            return attribute(*args, **kwargs)

        return counted


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
    store = Counting(store_with_commands_and_assets(), "read_all")
    assert read_news(store, "command-", 0, Seen(False, 3), 10) == ([], 3, False) and store.calls == 0
    batch, reached, full = read_news(store, "command-", 0, Seen(True, 4), 10)
    assert [e.global_position for e in batch] == [4] and (reached, full) == (4, False) and store.calls == 1
    assert read_news(store, "asset-", 0, Seen(True, 4), 2)[1:] == (2, True), "full: on from the last event read"
    assert read_news(store, "asset-", 2, Seen(True, 4), 2)[1:] == (4, False), "not full: up to what was seen"


def test_the_command_dispatcher_reads_only_when_told_of_command_events() -> None:
    store, stop = Counting(store_with_commands_and_assets(), "read_all"), threading.Event()
    dispatcher = CommandDispatcher(CommandContext(store), {})
    dispatcher.appends = ScriptedWatch(stop, [Seen(False, 9), Seen(False, 12)])
    dispatcher.run(stop)
    assert store.calls == 1, "read once at the start, then never: no command events"
    assert dispatcher.appends.asked == [4, 9, 12] and dispatcher.position == 12


def test_the_schedule_setpoints_read_only_when_told_of_schedule_events() -> None:
    store, stop = Counting(store_with_commands_and_assets(), "read_all"), threading.Event()
    setpoints = ScheduleSetpoints(CommandContext(store))
    setpoints.appends = ScriptedWatch(stop, [Seen(False, 7), Seen(True, 8), Seen(False, 8)])
    setpoints.run(stop)
    assert store.calls == 2 and setpoints.appends.asked == [0, 7, 8, 8] and setpoints.position == 8


def test_without_webhooks_the_dispatcher_lists_them_only_every_interval(tmp_path) -> None:
    events, stop, now_s = MemoryEventStore(), threading.Event(), [0.0]
    webhooks = SqlWebhookStore.sqlite(tmp_path / "webhooks.db")
    webhooks.create_tables()
    counted = Counting(webhooks, "list")

    class Appending(ScriptedWatch):
        """Appends every 0.4 s: never a second without one."""

        def wait(self, after: int, timeout_s: float) -> Seen:
            now_s[0] += 0.4
            return super().wait(after, timeout_s)

    appends = Appending(stop, [Seen(True, i) for i in range(1, 7)])
    WebhookDispatcher(events, counted, sender=lambda *_: 200, appends=appends).run(stop, monotonic=lambda: now_s[0])
    assert counted.calls == 3, "listed at the start and once a second, not after each append"
    assert appends.asked == [0, 1, 2, 3, 4, 5, 6]
    webhooks.close()
