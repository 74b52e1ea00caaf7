"""The registry rules of :mod:`domain.devices`, and the registry as of a position
(:mod:`streams.registry_history`, on the embedded SQLite event store)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from stores import prepared

from commands import registry as cmd
from commands.context import CommandContext
from domain.devices import (
    DeviceError,
    check_schedulable,
    device_power_sensor,
    effective_flex_context,
    is_descendant,
    sibling_device_sensors,
    site_of,
)
from domain.registry import AssetRegistered, SensorRegistered
from infra.eventstore.sqlite import SqliteEventStore
from streams.registry_history import RegistryHistory


@dataclass
class Registry:
    """A :class:`~domain.ports.registry.RegistryView` over plain dicts."""

    assets: dict[int, AssetRegistered] = field(default_factory=dict)
    sensors: dict[int, SensorRegistered] = field(default_factory=dict)

    def asset(self, asset_id):
        return self.assets.get(asset_id)

    def sensor(self, sensor_id):
        return self.sensors.get(sensor_id)

    def assets_of_account(self, account_id):
        return [a for _, a in sorted(self.assets.items()) if a.account_id == account_id]

    def sensors_of_asset(self, asset_id):
        return [s for _, s in sorted(self.sensors.items()) if s.asset_id == asset_id]

    def add_asset(self, asset_id, asset_type="battery", parent=None, **fields):
        self.assets[asset_id] = AssetRegistered(
            asset_id=asset_id, account_id=1, name=f"a{asset_id}", asset_type=asset_type, parent_asset_id=parent,
            **fields,
        )  # fmt: skip

    def add_sensor(self, sensor_id, asset_id, name="power", unit="kW", resolution_s=900):
        self.sensors[sensor_id] = SensorRegistered(
            sensor_id=sensor_id, asset_id=asset_id, name=name, unit=unit, event_resolution_s=resolution_s
        )


@pytest.fixture
def site() -> Registry:
    r = Registry()
    r.add_asset(1, "charge_site", flex_context={"consumption-price": "50 EUR/MWh", "site-power-capacity": "25 kW"})
    r.add_asset(2, "building", parent=1, flex_context={"site-power-capacity": "20 kW"})
    r.add_asset(3, parent=2)  # a battery with a "power" sensor and a temperature sensor
    r.add_sensor(30, 3, "temperature", "°C")
    r.add_sensor(31, 3, "Power")
    r.add_asset(4, "one-way_evse", parent=1, flex_model={"sensor": 41})  # names its sensor
    r.add_sensor(40, 4, "power")
    r.add_sensor(41, 4, "meter", "kW")
    r.add_asset(5, "one-way_evse", parent=1)  # two power sensors, none named power: no power sensor
    r.add_sensor(50, 5, "a")
    r.add_sensor(51, 5, "b")
    r.add_asset(6)  # another site
    r.add_sensor(60, 6)
    return r


def test_the_asset_tree(site: Registry) -> None:
    assert site_of(site, 3) == 1 and site_of(site, 6) == 6
    assert is_descendant(site, 3, 1) and is_descendant(site, 3, 3) and not is_descendant(site, 1, 3)
    assert effective_flex_context(site, 3) == {"consumption-price": "50 EUR/MWh", "site-power-capacity": "20 kW"}
    site.assets[1] = site.assets[1].model_copy(update={"parent_asset_id": 3})  # a cycle ends the walk
    assert site_of(site, 3) in {1, 2, 3} and is_descendant(site, 3, 1)


def test_which_sensor_is_the_devices_power_sensor(site: Registry) -> None:
    assert device_power_sensor(site, site.asset(3)).sensor_id == 31  # named "power", case-insensitive
    assert device_power_sensor(site, site.asset(4)).sensor_id == 41  # the flex-model names it
    assert device_power_sensor(site, site.asset(5)) is None  # ambiguous
    assert sibling_device_sensors(site, site.asset(3), own_sensor_id=31) == [41]


def test_a_schedulable_sensor(site: Registry) -> None:
    from datetime import UTC, datetime, timedelta

    check_schedulable(site.sensor(31), "flex-model[0].sensor", timedelta(minutes=30), datetime(2025, 1, 1, tzinfo=UTC))
    with pytest.raises(DeviceError) as unit:
        check_schedulable(site.sensor(30), "flex-model[0].sensor")
    assert (unit.value.code, unit.value.field) == ("INVALID_UNIT", "flex-model[0].sensor")
    with pytest.raises(DeviceError) as step:
        check_schedulable(site.sensor(31), "p", timedelta(minutes=20))
    assert step.value.code == "INVALID_RESOLUTION"
    with pytest.raises(DeviceError) as start:
        check_schedulable(site.sensor(31), "p", timedelta(minutes=15), datetime(2025, 1, 1, 0, 7, tzinfo=UTC))
    assert (start.value.code, start.value.field) == ("INVALID_START", "start")


def test_the_registry_as_of_a_position(tmp_path) -> None:
    cmd.set_bcrypt_rounds(4)
    store = prepared(SqliteEventStore(tmp_path / "events.db"))
    try:
        ctx = CommandContext(store)
        account = cmd.register_account(ctx, cmd.RegisterAccount(name="Alpha"))
        asset = cmd.register_asset(ctx, cmd.RegisterAsset(
            account_id=account, name="battery", asset_type="battery", flex_model={"power-capacity": "20 kW"},
        ))  # fmt: skip
        sensor = cmd.register_sensor(ctx, cmd.RegisterSensor(
            asset_id=asset, name="power", unit="kW", event_resolution_s=900,
        ))  # fmt: skip
        before_change = store.head_position() + 1
        cmd.change_asset(ctx, cmd.ChangeAsset(asset_id=asset, changes={"flex_model": {"power-capacity": "5 kW"}}))
        cmd.delete_sensor(ctx, cmd.DeleteSensor(sensor_id=sensor))
        history = RegistryHistory(store)
        then, now = history.as_of(before_change), history.as_of(store.head_position() + 1)
        assert then.asset(asset).flex_model == {"power-capacity": "20 kW"}
        assert now.asset(asset).flex_model == {"power-capacity": "5 kW"}
        assert [s.sensor_id for s in then.sensors_of_asset(asset)] == [sensor] and now.sensors_of_asset(asset) == []
        assert [a.asset_id for a in then.assets_of_account(account)] == [asset]
        assert history.as_of(1).asset(asset) is None  # before it was registered
    finally:
        store.close()
