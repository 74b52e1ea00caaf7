"""What every command handler gets: the event store, a clock, and helpers to load state."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from domain.events import DomainEvent, EventMetadata, NewEvent, utc_now
from domain.ports.event_store import NO_STREAM, AppendResult, EventStore, WrongExpectedRevision
from domain.registry import IdReserved, RegistryError


class CommandError(ValueError):
    """A command was refused. ``code`` is stable, ``field`` names the input.

    Commands know no HTTP: the API maps codes to statuses (:data:`api.errors.COMMAND_ERROR_STATUS`).
    """

    def __init__(self, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.code, self.field = code, field

    @classmethod
    def from_registry(cls, error: RegistryError) -> CommandError:
        return cls(error.code, str(error), error.field)


@dataclass
class CommandContext:
    """Dependencies of command handlers (no globals)."""

    store: EventStore
    clock: Callable[[], datetime] = utc_now
    metadata: EventMetadata = field(default_factory=EventMetadata)

    def with_actor(self, actor: str, correlation_id: str | None = None, traceparent: str | None = None):
        meta = EventMetadata(actor=actor, correlation_id=correlation_id, source="api", traceparent=traceparent)
        return CommandContext(self.store, self.clock, meta)

    def new_event(self, event: DomainEvent, event_id=None) -> NewEvent:
        meta = self.metadata.model_copy(update={"recorded_at": self.clock()})
        return NewEvent.of(event, meta, event_id)

    def append(self, stream_id: str, events: list[DomainEvent], expected_revision) -> AppendResult:
        return self.store.append(stream_id, [self.new_event(e) for e in events], expected_revision)

    def reserve_id(self, kind: str, attempts: int = 20) -> int:
        """Reserve the next integer id of ``kind`` on stream ``sequence-<kind>`` (retries on races)."""
        stream = f"sequence-{kind}"
        for _ in range(attempts):
            revision = self.store.stream_revision(stream)
            next_id = 1 if revision is None else revision + 2
            expected = NO_STREAM if revision is None else revision
            try:
                self.append(stream, [IdReserved(kind=kind, id=next_id)], expected)
                return next_id
            except WrongExpectedRevision:
                continue
        raise CommandError("CONFLICT", f"could not reserve a {kind} id")

    def load(self, stream_id: str) -> tuple[list[DomainEvent], int | None]:
        """All events of a stream, decoded, and its revision (``None``: no stream)."""
        recorded = self.store.read_stream(stream_id)
        revision = recorded[-1].stream_revision if recorded else None
        return [r.decode() for r in recorded], revision
