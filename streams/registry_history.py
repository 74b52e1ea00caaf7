"""The registry (assets and sensors) as of any position in the event store.

The scheduler solves a trigger stored at global position ``P`` with the registry as it was just
before ``P``: the devices' stored flex-models, their sensors, the site's other devices and the
asset tree's flex-context. Read from the event store's registry events (through its type
index), not from the registry read model (which may lag, or may have moved on), so solving a
trigger late, on another worker, or again in a replay after an asset was changed, decides the
same way.

:class:`RegistryHistory` is the one fold of the registry events for a processor: it reads them
incrementally (one filtered read per batch, through the store's type index) and keeps every
version of every asset and sensor with the position it took effect; :meth:`RegistryHistory.as_of`
is a :class:`~domain.ports.registry.RegistryView` of one moment. Views derived from the same
events (:class:`streams.soc_triggers.SocSensorIndex`: which sensor is whose state of charge)
subscribe to its asset changes (:meth:`RegistryHistory.on_asset_change`) instead of reading and
folding the events again. Memory grows with the number of registry changes (not with
readings). Appends are serialised, so once an event at ``P`` is visible every registry event
before ``P`` is too.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable

from domain.events import RecordedEvent
from domain.ports.event_store import EventStore
from domain.registry import AssetRegistered, SensorRegistered, evolve

REGISTRY_EVENT_TYPES = (
    "AssetRegistered", "AssetChanged", "AssetDeleted", "SensorRegistered", "SensorChanged", "SensorDeleted",
)  # fmt: skip
_READ_BATCH = 1000

Versions = list[tuple[int, object]]
"""(position, state from that position on; ``None`` once deleted), in position order."""

AssetChange = Callable[[int, int, AssetRegistered | None, AssetRegistered | None], None]
"""Called for every asset event folded, in position order: (position, asset id, state before,
state after; ``None`` when the asset does not exist (any more))."""


def _state_before(versions: Versions | None, position: int):
    if not versions:
        return None
    i = bisect_left(versions, position, key=lambda version: version[0])
    return versions[i - 1][1] if i else None


class RegistryHistory:
    """Every version of every asset and sensor, by global position."""

    def __init__(self, store: EventStore):
        self.store = store
        self.scanned_to = 0
        """Every registry event at or before this position has been folded in."""
        self._assets: dict[int, Versions] = {}
        self._sensors: dict[int, Versions] = {}
        self._assets_of_account: dict[int, list[int]] = {}
        self._sensors_of_asset: dict[int, list[int]] = {}
        self._asset_listeners: list[AssetChange] = []

    def on_asset_change(self, listener: AssetChange) -> None:
        """Call ``listener`` for every asset event folded from now on; subscribe before the first
        :meth:`catch_up`, so the listener sees every asset event from the start."""
        if self.scanned_to:
            raise RuntimeError("subscribe before the history folds its first events")
        self._asset_listeners.append(listener)

    def catch_up(self, position: int) -> None:
        """Fold every registry event up to ``position`` (an event at ``position`` is known to be stored)."""
        while self.scanned_to < position:
            batch = self.store.read_all(self.scanned_to, _READ_BATCH, types=REGISTRY_EVENT_TYPES)
            for recorded in batch:
                self._apply(recorded)
            last = batch[-1].global_position if batch else self.scanned_to
            # a short batch read everything stored, and everything before ``position`` is stored
            self.scanned_to = max(last, position) if len(batch) < _READ_BATCH else last

    def as_of(self, position: int) -> RegistryAsOf:
        """The registry just before ``position`` (the events at positions < ``position``)."""
        self.catch_up(position)
        return RegistryAsOf(self, position)

    def _apply(self, recorded: RecordedEvent) -> None:
        event = recorded.decode()
        if recorded.type.startswith("Asset"):
            versions, entity_id = self._assets.setdefault(event.asset_id, []), event.asset_id
        else:
            versions, entity_id = self._sensors.setdefault(event.sensor_id, []), event.sensor_id
        before = versions[-1][1] if versions else None
        state = evolve(before, event)
        versions.append((recorded.global_position, state))
        if recorded.type.startswith("Asset"):
            for listener in self._asset_listeners:
                listener(recorded.global_position, entity_id, before, state)
        if isinstance(event, AssetRegistered):
            self._index(self._assets_of_account, event.account_id, entity_id)
        elif isinstance(event, SensorRegistered):
            self._index(self._sensors_of_asset, event.asset_id, entity_id)

    @staticmethod
    def _index(index: dict[int, list[int]], key: int, entity_id: int) -> None:
        ids = index.setdefault(key, [])
        if entity_id not in ids:
            ids.append(entity_id)


class RegistryAsOf:
    """A :class:`~domain.ports.registry.RegistryView` of the registry just before ``position``."""

    def __init__(self, history: RegistryHistory, position: int):
        self.history, self.position = history, position

    def asset(self, asset_id: int) -> AssetRegistered | None:
        return _state_before(self.history._assets.get(asset_id), self.position)

    def sensor(self, sensor_id: int) -> SensorRegistered | None:
        return _state_before(self.history._sensors.get(sensor_id), self.position)

    def assets_of_account(self, account_id: int) -> list[AssetRegistered]:
        found = (self.asset(i) for i in sorted(self.history._assets_of_account.get(account_id, [])))
        return [a for a in found if a is not None and a.account_id == account_id]

    def sensors_of_asset(self, asset_id: int) -> list[SensorRegistered]:
        found = (self.sensor(i) for i in sorted(self.history._sensors_of_asset.get(asset_id, [])))
        return [s for s in found if s is not None and s.asset_id == asset_id]
