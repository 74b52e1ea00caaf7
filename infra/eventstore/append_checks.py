"""What an event store checks before an append writes: the expected revision
(:func:`check_expected`) and the events whose id is stored already (:func:`first_of_each_id`)."""

from __future__ import annotations

from collections.abc import Sequence

from domain.events import NewEvent
from domain.ports.event_store import ANY, NO_STREAM, STREAM_EXISTS, ExpectedRevision, WrongExpectedRevision


def check_expected(stream_id: str, expected: ExpectedRevision, actual: int | None) -> None:
    """Raise :class:`WrongExpectedRevision` unless the stream's revision ``actual`` (None: no
    stream) is as ``expected``; ``ValueError`` for an expectation that is none of the port's."""
    if expected == ANY:
        return
    if expected == NO_STREAM:
        ok = actual is None
    elif expected == STREAM_EXISTS:
        ok = actual is not None
    elif isinstance(expected, int) and not isinstance(expected, bool):
        ok = actual == expected
    else:
        raise ValueError(f"invalid expected revision {expected!r}")
    if not ok:
        raise WrongExpectedRevision(stream_id, expected, actual)


def first_of_each_id(events: Sequence[NewEvent], ids: Sequence[str], stored: set[str]) -> list[tuple[NewEvent, str]]:
    """(event, its id as text) of the events whose id is not stored yet, in call order; an id
    repeated within the call counts once. ``ids``: the events' ids as text."""
    fresh: list[tuple[NewEvent, str]] = []
    for event, key in zip(events, ids, strict=True):
        if key not in stored:
            stored.add(key)
            fresh.append((event, key))
    return fresh
