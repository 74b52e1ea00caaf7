"""The registry-view port: assets and sensors as the domain's states, as of some moment.

Two implementations: the registry read model as it is now (:class:`projections.registry_query.ReadModelRegistry`,
for the API's validation) and the event store's registry events folded up to a global
position (:class:`streams.registry_history.RegistryHistory`, for the scheduler, so that a
trigger is solved with the registry as it was when the trigger was stored, in a replay too).
"""

from __future__ import annotations

from typing import Protocol

from domain.registry import AssetRegistered, SensorRegistered


class RegistryView(Protocol):
    """Assets and sensors (deleted ones are absent)."""

    def asset(self, asset_id: int) -> AssetRegistered | None: ...

    def sensor(self, sensor_id: int) -> SensorRegistered | None: ...

    def assets_of_account(self, account_id: int) -> list[AssetRegistered]:
        """The account's assets, by id."""
        ...

    def sensors_of_asset(self, asset_id: int) -> list[SensorRegistered]:
        """The asset's sensors, by id."""
        ...
