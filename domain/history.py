"""The auditor's history: pages of events read from the event-store port, and causation chains.

Reads only the event store (the system of record), never a read model. Every query does
bounded work: at most ``max_scanned`` events are examined per page; a page that stopped
early says where to continue (``next_position``), so a client pages on until ``complete``.
Visibility is decided by the caller's ``visible`` predicate (see :mod:`domain.disclosure`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from domain.events import RecordedEvent
from domain.ports.event_store import EventStore

Visible = Callable[[RecordedEvent], bool]
MAX_PAGE = 1000
MAX_SCANNED = 20_000
MAX_CHAIN_DEPTH = 100
MAX_EFFECTS_SCANNED = 20_000


@dataclass(frozen=True)
class HistoryFilter:
    """Which events: types, actor, correlation id, and ``since <= recorded_at < until`` (aware)."""

    types: tuple[str, ...] = ()
    actor: str | None = None
    correlation_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def matches(self, event: RecordedEvent) -> bool:
        meta = event.metadata
        if self.types and event.type not in self.types:
            return False
        if self.actor is not None and meta.actor != self.actor:
            return False
        if self.correlation_id is not None and meta.correlation_id != self.correlation_id:
            return False
        if self.since is not None and meta.recorded_at < self.since:
            return False
        return self.until is None or meta.recorded_at < self.until


@dataclass
class HistoryPage:
    """Matching events in order; ``next_position``: the cursor for the next page (global
    position for the global history, stream revision for a stream); ``complete``: nothing
    after the cursor existed when this page was read."""

    events: list[RecordedEvent] = field(default_factory=list)
    next_position: int = 0
    complete: bool = False


def global_history(
    store: EventStore,
    after_position: int,
    limit: int,
    flt: HistoryFilter,
    visible: Visible,
    max_scanned: int = MAX_SCANNED,
) -> HistoryPage:
    """Up to ``limit`` visible, matching events with global position > ``after_position``."""
    limit = max(1, min(limit, MAX_PAGE))
    page, scanned, cursor = HistoryPage(next_position=after_position), 0, after_position
    while scanned < max_scanned:
        head = store.head_position() if flt.types else 0  # before the read: nothing below it comes later
        batch = store.read_all(cursor, min(1000, max_scanned - scanned), types=flt.types or None)
        if not batch:
            page.complete, cursor = True, max(cursor, head)  # a filtered read skipped to the end
            break
        for event in batch:
            cursor, scanned = event.global_position, scanned + 1
            if flt.matches(event) and visible(event):
                page.events.append(event)
                if len(page.events) >= limit:
                    page.next_position = cursor
                    return page
    page.next_position = cursor
    return page


def stream_history(
    store: EventStore,
    stream_id: str,
    from_revision: int,
    limit: int,
    flt: HistoryFilter,
    max_scanned: int = MAX_SCANNED,
) -> HistoryPage:
    """Up to ``limit`` matching events of one stream from revision ``from_revision`` on;
    ``next_position`` is the revision to ask for next."""
    limit = max(1, min(limit, MAX_PAGE))
    page, scanned, revision = HistoryPage(next_position=from_revision), 0, max(0, from_revision)
    while scanned < max_scanned:
        batch = store.read_stream(stream_id, from_revision=revision, limit=min(1000, max_scanned - scanned))
        if not batch:
            page.complete = True
            break
        for event in batch:
            revision, scanned = event.stream_revision + 1, scanned + 1
            if flt.matches(event):
                page.events.append(event)
                if len(page.events) >= limit:
                    page.next_position = revision
                    return page
    page.next_position = revision
    return page


@dataclass
class CausationChain:
    """``causes``: the event's causes, root first; ``effects``: events it caused, directly or not,
    in position order (searched among the ``effects_scanned`` events after it); ``hidden``: how
    many links the viewer may not see (they are left out, the chain goes on through them)."""

    event: RecordedEvent
    causes: list[RecordedEvent] = field(default_factory=list)
    effects: list[RecordedEvent] = field(default_factory=list)
    effects_complete: bool = True
    hidden: int = 0


def _parse_id(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


def _causes(store: EventStore, event: RecordedEvent) -> list[RecordedEvent]:
    chain, seen = [], {event.event_id}
    cause_id = _parse_id(event.metadata.causation_id)
    while cause_id is not None and cause_id not in seen and len(chain) < MAX_CHAIN_DEPTH:
        seen.add(cause_id)
        cause = store.get_event(cause_id)
        if cause is None:
            break
        chain.append(cause)
        cause_id = _parse_id(cause.metadata.causation_id)
    chain.reverse()
    return chain


def _effects(store: EventStore, event: RecordedEvent, max_scanned: int) -> tuple[list[RecordedEvent], bool]:
    """Events caused (transitively) by ``event``: a forward scan, as causes precede effects."""
    ids, effects, scanned, cursor = {str(event.event_id)}, [], 0, event.global_position
    while scanned < max_scanned:
        batch = store.read_all(cursor, min(1000, max_scanned - scanned))
        if not batch:
            return effects, True
        for candidate in batch:
            cursor, scanned = candidate.global_position, scanned + 1
            if candidate.metadata.causation_id in ids:
                ids.add(str(candidate.event_id))
                effects.append(candidate)
    return effects, False


def causation_chain(
    store: EventStore, event_id: uuid.UUID, visible: Visible, max_effects_scanned: int = MAX_EFFECTS_SCANNED
) -> CausationChain | None:
    """The chain through ``event_id`` (``None`` when the event is unknown or not visible)."""
    event = store.get_event(event_id)
    if event is None or not visible(event):
        return None
    causes = _causes(store, event)
    effects, complete = _effects(store, event, max_effects_scanned)
    shown_causes = [e for e in causes if visible(e)]
    shown_effects = [e for e in effects if visible(e)]
    hidden = len(causes) + len(effects) - len(shown_causes) - len(shown_effects)
    return CausationChain(event, shown_causes, shown_effects, complete, hidden)


def visible_types(types: Sequence[str] | None) -> tuple[str, ...]:
    """Normalise a types filter (drops blanks, keeps order)."""
    return tuple(t for t in (types or ()) if t)
