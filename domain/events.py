"""The event envelope and the registry of domain event types.

Every fact in flexledger is an immutable event. A domain event is a frozen pydantic model
(past tense name, ``schema_version`` class variable). It travels in an envelope:

* :class:`NewEvent` — what a command handler appends: event id (UUID; appending the same id
  twice stores it once), type, schema version, data, metadata. The stream id is not part of
  it: it is the ``append`` call's argument (the event store's port).
* :class:`RecordedEvent` — what the store gives back: the same plus the stream revision
  (0-based position inside its stream) and the global position (positive, strictly
  increasing in commit order over all events in the store; gap-free in the SQL stores).

Old schema versions are upcast on read (:func:`register_upcaster`), never rewritten.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field


def utc_now() -> datetime:
    """The current time, timezone-aware (UTC)."""
    return datetime.now(UTC)


class EventMetadata(BaseModel):
    """Who caused an event, why and when it was recorded."""

    model_config = ConfigDict(frozen=True)

    correlation_id: str | None = None
    causation_id: str | None = None
    actor: str | None = None
    source: str | None = None
    recorded_at: datetime = Field(default_factory=utc_now)
    traceparent: str | None = None

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class DomainEvent(BaseModel):
    """Base class of all domain events: frozen, with a type name and schema version."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str] = ""
    schema_version: ClassVar[int] = 1

    def to_data(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


E = TypeVar("E", bound=type[DomainEvent])
_EVENT_TYPES: dict[str, type[DomainEvent]] = {}
_UPCASTERS: dict[tuple[str, int], Callable[[dict[str, Any]], dict[str, Any]]] = {}


def register_event(cls: E) -> E:
    """Class decorator: make an event type known to :func:`decode`."""
    if not cls.event_type:
        cls.event_type = cls.__name__
    if cls.event_type in _EVENT_TYPES and _EVENT_TYPES[cls.event_type] is not cls:
        raise ValueError(f"event type {cls.event_type} registered twice")
    _EVENT_TYPES[cls.event_type] = cls
    return cls


def register_upcaster(event_type: str, from_version: int):
    """Decorator: a function turning ``data`` of ``from_version`` into ``from_version + 1``."""

    def decorate(fn: Callable[[dict[str, Any]], dict[str, Any]]):
        _UPCASTERS[(event_type, from_version)] = fn
        return fn

    return decorate


def upcast(event_type: str, schema_version: int, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Apply upcasters until the newest registered version; returns (version, data)."""
    while (event_type, schema_version) in _UPCASTERS:
        data = _UPCASTERS[(event_type, schema_version)](data)
        schema_version += 1
    return schema_version, data


class NewEvent(BaseModel):
    """An event about to be appended (to the stream named in the ``append`` call)."""

    model_config = ConfigDict(frozen=True)

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: str
    schema_version: int = 1
    data: dict[str, Any]
    metadata: EventMetadata = Field(default_factory=EventMetadata)

    @classmethod
    def of(
        cls, event: DomainEvent, metadata: EventMetadata | None = None, event_id: uuid.UUID | None = None
    ) -> NewEvent:
        """Wrap a domain event."""
        return cls(
            event_id=event_id or uuid.uuid4(),
            type=event.event_type,
            schema_version=event.schema_version,
            data=event.to_data(),
            metadata=metadata or EventMetadata(),
        )


class RecordedEvent(BaseModel):
    """An event as stored: envelope plus stream revision and global position."""

    model_config = ConfigDict(frozen=True)

    event_id: uuid.UUID
    stream_id: str
    stream_revision: int
    global_position: int
    type: str
    schema_version: int
    data: dict[str, Any]
    metadata: EventMetadata
    hash: str | None = None
    """Tamper evidence: SHA-256 chained to the previous event (:mod:`domain.audit_chain`); ``None``
    where the store keeps no chain."""

    def decode(self) -> DomainEvent:
        """The typed domain event, upcast to the newest schema version."""
        return decode(self.type, self.schema_version, self.data)

    @property
    def category(self) -> str:
        """Stream category: the part of the stream id before the first ``-``."""
        return self.stream_id.split("-", 1)[0]


def decode(event_type: str, schema_version: int, data: dict[str, Any]) -> DomainEvent:
    """Decode stored data into its registered domain event class (after upcasting)."""
    try:
        cls = _EVENT_TYPES[event_type]
    except KeyError as exc:
        raise KeyError(f"unknown event type {event_type!r}") from exc
    _, data = upcast(event_type, schema_version, data)
    return cls.model_validate(data)


def known_event_types() -> list[str]:
    return sorted(_EVENT_TYPES)
