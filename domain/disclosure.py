"""What of the event log a third party or an auditor may see: ownership, redaction, wire view.

**Ownership rule** (the one place it is decided, :meth:`OwnershipResolver.owner_of_stream`):
an event belongs to the account of its *stream*, and a stream belongs to the account of the
entity it is about:

* ``account-<id>`` → that account;
* ``user-<id>`` → the user's account;
* ``asset-<id>``, ``udi-<id>`` → the asset's account;
* ``sensor-<id>``, ``sensordata-<id>``, ``forecast-<id>`` → the account of the sensor's asset;
* any other stream (``schedule-<uuid>``, ``job-<uuid>``, ``useremail-<hash>``, ...) → the
  entity its *first* event names, tried in this order: ``asset_id``, ``sensor_id``,
  ``user_id``, ``account_id``;
* a stream that names no entity (``sequence-<kind>``) belongs to the platform: ``account_id``
  ``None``, visible to admins and auditors only.

Ownership never changes (an asset's account and a sensor's asset are fixed at registration),
so it is cached forever once known. It is read from the event store (registration events),
so events of deleted entities keep their owner.

**Redaction rule** (:func:`redact_credentials`): any mapping key whose lower-cased name, with
``-`` and ``_`` removed, contains one of :data:`CREDENTIAL_MARKERS` is dropped, at any depth, from
every payload shown outside the platform (history, subscriptions, webhooks). A password hash
is a credential too.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain.credentials import is_private
from domain.events import RecordedEvent
from domain.ports.event_store import EventStore

CREDENTIAL_MARKERS = ("password", "secret", "token", "apikey", "credential", "privatekey")
"""Key fragments that mark a credential-like field (password hashes, tokens, secrets, API keys)."""

_STREAM_ENTITIES = {
    "account": "account",
    "user": "user",
    "asset": "asset",
    "udi": "asset",
    "sensor": "sensor",
    "sensordata": "sensor",
    "forecast": "sensor",
}
_DATA_KEYS = (("asset_id", "asset"), ("sensor_id", "sensor"), ("user_id", "user"), ("account_id", "account"))


def is_credential_key(key: str) -> bool:
    """True for a key that names a credential (see :data:`CREDENTIAL_MARKERS`)."""
    normalised = key.lower().replace("-", "").replace("_", "")
    return any(marker in normalised for marker in CREDENTIAL_MARKERS)


def redact_credentials(value: Any) -> Any:
    """``value`` without credential-like keys, at any depth (mappings and lists are copied)."""
    if isinstance(value, Mapping):
        return {k: redact_credentials(v) for k, v in value.items() if not is_credential_key(str(k))}
    if isinstance(value, list | tuple):
        return [redact_credentials(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class StreamOwner:
    """Whose a stream is: the account (``None``: the platform), and the asset/sensor it is about."""

    account_id: int | None
    asset_id: int | None = None
    sensor_id: int | None = None
    private: bool = False
    """A credential stream (password hashes, API keys): disclosed to nobody."""


PLATFORM = StreamOwner(None)
PRIVATE = StreamOwner(None, private=True)


def entity_of_stream(stream_id: str) -> tuple[str, int] | None:
    """The (kind, id) a stream id names by itself (``asset-3`` → ``("asset", 3)``), else ``None``."""
    category, _, rest = stream_id.partition("-")
    kind = _STREAM_ENTITIES.get(category)
    if kind is None or not rest.isdigit():
        return None
    return kind, int(rest)


def entity_of_data(data: Mapping[str, Any]) -> tuple[str, int] | None:
    """The first entity an event's data names (``asset_id``, ``sensor_id``, ``user_id``, ``account_id``)."""
    for key, kind in _DATA_KEYS:
        value = data.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return kind, value
    return None


class OwnershipResolver:
    """Applies the ownership rule of this module, reading registration events from the store.

    Thread-safe; known owners are cached (ownership never changes); an entity not registered
    yet is not cached, so it is found once its registration is stored.
    """

    def __init__(self, store: EventStore, max_entries: int = 200_000):
        self.store, self.max_entries = store, max_entries
        self._streams: dict[str, StreamOwner] = {}
        self._lock = threading.Lock()

    def owner_of(self, event: RecordedEvent) -> StreamOwner:
        return self.owner_of_stream(event.stream_id)

    def owner_of_stream(self, stream_id: str) -> StreamOwner:
        """The owner of a stream (:data:`PLATFORM` for streams that name no entity, :data:`PRIVATE`
        for credential streams)."""
        if is_private(stream_id):
            return PRIVATE
        with self._lock:
            cached = self._streams.get(stream_id)
        if cached is not None:
            return cached
        entity = entity_of_stream(stream_id)
        if entity is None:
            first = self.store.read_stream(stream_id, limit=1)
            entity = entity_of_data(first[0].data) if first else None
        owner = self._owner_of_entity(entity) if entity else PLATFORM
        if owner is not None:
            self._remember(stream_id, owner)
        return owner or PLATFORM

    def _owner_of_entity(self, entity: tuple[str, int]) -> StreamOwner | None:
        kind, entity_id = entity
        if kind == "account":
            return StreamOwner(entity_id)
        data = self._registration(f"{kind}-{entity_id}")
        if data is None:
            return None
        if kind == "user":
            return StreamOwner(data.get("account_id"))
        if kind == "asset":
            return StreamOwner(data.get("account_id"), asset_id=entity_id)
        asset = self._owner_of_entity(("asset", data["asset_id"])) if "asset_id" in data else None
        return StreamOwner(asset.account_id, asset.asset_id, entity_id) if asset else None

    def _registration(self, stream_id: str) -> Mapping[str, Any] | None:
        first = self.store.read_stream(stream_id, limit=1)
        return first[0].data if first else None

    def _remember(self, stream_id: str, owner: StreamOwner) -> None:
        with self._lock:
            if len(self._streams) >= self.max_entries:
                self._streams.clear()
            self._streams[stream_id] = owner


@dataclass(frozen=True)
class SubscriptionFilter:
    """Which events a subscriber gets: types, assets, sensors, ``since <= recorded_at < until``.

    An asset filter matches events of the asset's streams (``asset-``, ``udi-``, schedules and
    jobs of the asset) and of its sensors' streams; a sensor filter matches the sensor's streams.
    """

    types: tuple[str, ...] = ()
    asset_ids: frozenset[int] = field(default_factory=frozenset)
    sensor_ids: frozenset[int] = field(default_factory=frozenset)
    since: datetime | None = None
    until: datetime | None = None

    def matches(self, event: RecordedEvent, owner: StreamOwner) -> bool:
        if self.types and event.type not in self.types:
            return False
        recorded_at = event.metadata.recorded_at
        if self.since is not None and recorded_at < self.since:
            return False
        if self.until is not None and recorded_at >= self.until:
            return False
        if not self.asset_ids and not self.sensor_ids:
            return True
        return owner.asset_id in self.asset_ids or owner.sensor_id in self.sensor_ids


def may_see(owner: StreamOwner, viewer_account_id: int | None, sees_all: bool) -> bool:
    """Whether a viewer of ``viewer_account_id`` may see events of ``owner`` (admins/auditors: all)."""
    if owner.private:
        return False
    return sees_all or (owner.account_id is not None and owner.account_id == viewer_account_id)


def public_view(event: RecordedEvent) -> dict[str, Any]:
    """The JSON shape of an event outside the platform: envelope, redacted data, metadata.

    ``id`` is the global position (the SSE id and the resume point); ``metadata`` holds actor,
    source, correlation and causation ids, recorded-at and the trace id (``traceparent``).
    """
    return {
        "id": event.global_position,
        "event_id": str(event.event_id),
        "stream_id": event.stream_id,
        "stream_revision": event.stream_revision,
        "type": event.type,
        "schema_version": event.schema_version,
        "data": redact_credentials(event.data),
        "metadata": event.metadata.to_json(),
    }
