"""How pollers hear of appends of their topics: an :class:`AppendWatch` answers a wait with
:class:`Seen`; :class:`StoreWatch` is the store's own (every append is news), the followers' feed
has one per topic set (:meth:`streams.event_feed.EventFeed.watch`: woken by their events only)."""

from __future__ import annotations

from typing import NamedTuple, Protocol

from domain.events import RecordedEvent
from domain.ports.event_store import EventStore


class Seen(NamedTuple):
    """What a watcher of some topics at a position learnt (:class:`AppendWatch`): the store holds
    events up to ``up_to``; ``news``: some after the position may be of its topics (read them; a
    read after this answer that is not full covers ``up_to``), else none are (move to ``up_to``)."""

    news: bool
    up_to: int


class AppendWatch(Protocol):
    """Waits for appends of some topics (the pollers of :mod:`streams.command_dispatcher`,
    :mod:`streams.schedule_setpoints` and :mod:`streams.webhooks`)."""

    def wait(self, after: int, timeout_s: float) -> Seen:
        """Block until events of the topics may follow ``after`` or ``timeout_s`` passed."""
        ...


class StoreWatch:
    """An :class:`AppendWatch` on the store alone: every append is news (no feed to tell topics)."""

    def __init__(self, store: EventStore):
        self.store = store

    def wait(self, after: int, timeout_s: float) -> Seen:
        if not self.store.wait_for_append(after, timeout_s):
            return Seen(False, after)
        return Seen(True, max(after, self.store.head_position()))  # the head before the caller reads


def read_news(
    store: EventStore, stream_prefix: str, after: int, seen: Seen, limit: int
) -> tuple[list[RecordedEvent], int, bool]:
    """A poller's next batch of its ``stream_prefix`` streams after ``after``, read only when
    ``seen`` tells of news: (the events, the position they bring the poller to, whether the read was
    full: read again at once)."""
    if not seen.news:
        return [], max(after, seen.up_to), False
    batch = store.read_all(after, limit, stream_prefix=stream_prefix)
    if len(batch) == limit:
        return batch, batch[-1].global_position, True
    return batch, max(after, seen.up_to, *(e.global_position for e in batch[-1:])), False


__all__ = ["AppendWatch", "Seen", "StoreWatch", "read_news"]
