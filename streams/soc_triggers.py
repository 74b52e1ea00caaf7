"""Which sensors are state-of-charge sensors of a device, as of any position in the event store.

The scheduler asks, for a ``SensorDataRecorded`` event at global position ``P``: did a device's
stored flex-model name this sensor as its ``state-of-charge`` sensor just before ``P``? The
answer comes from the asset events in the event store (not from the registry read model, which
may lag or may have moved on), so processing a reading late, on another partition, or again in
a replay decides the same way.

:class:`SocSensorIndex` folds the asset events (``AssetRegistered``/``AssetChanged``/
``AssetDeleted``, read through the store's type index) incrementally and keeps, per
state-of-charge sensor, the positions where its link to a device changed. Appends are
serialised (positions commit in order), so once an event at ``P`` is visible every asset event
before ``P`` is too: one filtered read per batch brings the index up to date.
"""

from __future__ import annotations

from bisect import bisect_left

from domain.events import RecordedEvent
from domain.ports.event_store import EventStore
from domain.registry import AssetRegistered, evolve
from domain.soc_readings import SocLink, soc_links

ASSET_EVENT_TYPES = ("AssetRegistered", "AssetChanged", "AssetDeleted")
READING_STREAM_PREFIX = "sensordata-"
_READ_BATCH = 1000


def reading_sensor_id(recorded: RecordedEvent) -> int | None:
    """The sensor of a ``SensorDataRecorded`` event, from its stream id (no payload decoding)."""
    if recorded.type != "SensorDataRecorded" or not recorded.stream_id.startswith(READING_STREAM_PREFIX):
        return None
    try:
        return int(recorded.stream_id[len(READING_STREAM_PREFIX) :])
    except ValueError:
        return None


class SocSensorIndex:
    """State-of-charge sensor -> device links, with their history by global position."""

    def __init__(self, store: EventStore):
        self.store = store
        self.scanned_to = 0
        """Every asset event at or before this position has been folded in."""
        self._assets: dict[int, AssetRegistered] = {}
        self._linked_by: dict[int, dict[int, SocLink]] = {}
        """Per sensor: the assets whose flex-model names it (the last one to do so wins)."""
        self._changes: dict[int, list[tuple[int, SocLink | None]]] = {}
        """Per sensor: (position, link from that position on) in position order."""

    def catch_up(self, position: int) -> None:
        """Fold every asset event up to ``position`` (an event at ``position`` is known to be stored)."""
        while self.scanned_to < position:
            batch = self.store.read_all(self.scanned_to, _READ_BATCH, types=ASSET_EVENT_TYPES)
            for recorded in batch:
                self._apply(recorded)
            last = batch[-1].global_position if batch else self.scanned_to
            # a short batch read everything stored, and everything before ``position`` is stored
            self.scanned_to = max(last, position) if len(batch) < _READ_BATCH else last

    def link_as_of(self, sensor_id: int, position: int) -> SocLink | None:
        """The device whose state-of-charge sensor ``sensor_id`` was just before ``position``."""
        self.catch_up(position)
        changes = self._changes.get(sensor_id)
        if not changes:
            return None
        i = bisect_left(changes, position, key=lambda change: change[0])
        return changes[i - 1][1] if i else None

    def is_candidate(self, sensor_id: int) -> bool:
        """Whether ``sensor_id`` was ever linked (a cheap filter before :meth:`link_as_of`)."""
        return sensor_id in self._changes

    def _apply(self, recorded: RecordedEvent) -> None:
        event = recorded.decode()
        asset_id = event.asset_id
        before = soc_links(self._assets.get(asset_id))
        state = evolve(self._assets.get(asset_id), event)
        if state is None:
            self._assets.pop(asset_id, None)
        else:
            self._assets[asset_id] = state
        after = soc_links(state)
        for sensor_id in before.keys() | after.keys():
            if before.get(sensor_id) == after.get(sensor_id):
                continue
            linked = self._linked_by.setdefault(sensor_id, {})
            previous = self.effective(sensor_id)
            linked.pop(asset_id, None)
            if sensor_id in after:
                linked[asset_id] = after[sensor_id]
            current = self.effective(sensor_id)
            if current != previous:
                self._changes.setdefault(sensor_id, []).append((recorded.global_position, current))

    def effective(self, sensor_id: int) -> SocLink | None:
        """The sensor's link now (after everything folded): the asset that named it last."""
        linked = self._linked_by.get(sensor_id)
        return next(reversed(linked.values())) if linked else None
