"""An event store decorator that seals personal fields on append and opens them on read.

The composition root wraps the platform's event store in :class:`SealingEventStore`, so
commands, processors, history and subscriptions read personal fields in the clear (or as
``[erased]`` once forgotten) while the store keeps only ciphertext (:mod:`domain.personal_data`).
:attr:`SealingEventStore.sealed` is the store as stored: the hash chain, checkpoints and audit
exports read it (:func:`domain.personal_data.stored_form`), since the chain hashes the
ciphertext. Events without personal fields pass through untouched (one dict look-up each).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from domain.events import NewEvent, RecordedEvent
from domain.personal_data import has_personal_fields, seal_data, subject_of, unseal_data
from domain.ports.event_store import ANY, AppendResult, EventStore, ExpectedRevision
from infra.personal_keys import PersonalDataCipher
from streams.event_feed import appended_reader


class SealingEventStore:
    """``inner`` with personal fields sealed at rest (see the module docstring)."""

    def __init__(self, inner: EventStore, cipher: PersonalDataCipher):
        self.inner, self.cipher = inner, cipher

    @property
    def sealed(self) -> EventStore:
        """The wrapped store: events exactly as stored (personal fields as ciphertext)."""
        return self.inner

    def append(
        self, stream_id: str, events: Sequence[NewEvent], expected_revision: ExpectedRevision = ANY
    ) -> AppendResult:
        return self.inner.append(stream_id, [self._seal(e) for e in events], expected_revision)

    def read_stream(
        self, stream_id: str, from_revision: int = 0, backwards: bool = False, limit: int | None = None
    ) -> list[RecordedEvent]:
        return self._open(self.inner.read_stream(stream_id, from_revision, backwards, limit))

    def read_all(
        self,
        after_position: int = 0,
        limit: int = 1000,
        types: Sequence[str] | None = None,
        stream_prefix: str | None = None,
    ) -> list[RecordedEvent]:
        return self._open(self.inner.read_all(after_position, limit, types=types, stream_prefix=stream_prefix))

    def read_appended(self, after_position: int, limit: int) -> list[RecordedEvent]:
        """The inner store's :func:`~streams.event_feed.appended_reader` read, opened."""
        return self._open(appended_reader(self.inner)(after_position, limit))

    def get_event(self, event_id: uuid.UUID) -> RecordedEvent | None:
        event = self.inner.get_event(event_id)
        return None if event is None else self._open([event])[0]

    def pseudonym(self, value: str) -> str:
        """A keyed hash of ``value`` (names the e-mail uniqueness streams)."""
        return self.cipher.pseudonym(value)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def _seal(self, event: NewEvent) -> NewEvent:
        if not has_personal_fields(event.type):
            return event
        return event.model_copy(update={"data": seal_data(event.type, event.data, self.cipher.seal)})

    def _open(self, events: list[RecordedEvent]) -> list[RecordedEvent]:
        subjects = {subject_of(e.type, e.data) for e in events if has_personal_fields(e.type)} - {None}
        if not subjects:
            return events
        keys = self.cipher.keys.keys_for(subjects)

        def unseal(subject: str, path: str, sealed: str):
            return self.cipher.open(keys.get(subject), subject, path, sealed)

        return [
            e.model_copy(update={"data": unseal_data(e.type, e.data, unseal)}) if has_personal_fields(e.type) else e
            for e in events
        ]
