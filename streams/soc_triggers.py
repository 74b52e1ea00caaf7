"""Which sensors are state-of-charge sensors of a device, as of any position in the event store.

The scheduler asks, for a ``SensorDataRecorded`` event at global position ``P``: did a device's
stored flex-model name this sensor as its ``state-of-charge`` sensor just before ``P``? The
answer comes from the asset events in the event store (not from the registry read model, which
may lag or may have moved on), so processing a reading late, on another partition, or again in
a replay decides the same way.

:class:`SocSensorIndex` follows the asset changes of a
:class:`~streams.registry_history.RegistryHistory` (the processor's one fold of the registry
events: nothing is read or folded twice) and keeps, per state-of-charge sensor, the positions
where its link to a device changed. Appends are serialised (positions commit in order), so once
an event at ``P`` is visible every asset event before ``P`` is too: one filtered read per batch
brings the history, and with it the index, up to date.
"""

from __future__ import annotations

from bisect import bisect_left

from domain.events import RecordedEvent
from domain.registry import AssetRegistered
from domain.soc_readings import SocLink, soc_links
from streams.registry_history import RegistryHistory

READING_STREAM_PREFIX = "sensordata-"


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

    def __init__(self, history: RegistryHistory):
        self.history = history
        self._linked_by: dict[int, dict[int, SocLink]] = {}
        """Per sensor: the assets whose flex-model names it (the last one to do so wins)."""
        self._changes: dict[int, list[tuple[int, SocLink | None]]] = {}
        """Per sensor: (position, link from that position on) in position order."""
        history.on_asset_change(self._asset_changed)

    @property
    def scanned_to(self) -> int:
        """Every asset event at or before this position has been folded in."""
        return self.history.scanned_to

    def catch_up(self, position: int) -> None:
        """Fold every asset event up to ``position`` (an event at ``position`` is known to be stored)."""
        self.history.catch_up(position)

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

    def _asset_changed(
        self, position: int, asset_id: int, before: AssetRegistered | None, after: AssetRegistered | None
    ) -> None:
        links_before, links_after = soc_links(before), soc_links(after)
        for sensor_id in links_before.keys() | links_after.keys():
            if links_before.get(sensor_id) == links_after.get(sensor_id):
                continue
            linked = self._linked_by.setdefault(sensor_id, {})
            previous = self.effective(sensor_id)
            linked.pop(asset_id, None)
            if sensor_id in links_after:
                linked[asset_id] = links_after[sensor_id]
            current = self.effective(sensor_id)
            if current != previous:
                self._changes.setdefault(sensor_id, []).append((position, current))

    def effective(self, sensor_id: int) -> SocLink | None:
        """The sensor's link now (after everything folded): the asset that named it last."""
        linked = self._linked_by.get(sensor_id)
        return next(reversed(linked.values())) if linked else None
