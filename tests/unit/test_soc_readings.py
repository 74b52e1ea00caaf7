"""State-of-charge readings: which readings trigger a schedule, and which sensors are SoC sensors when.

The index is checked against a real SQLite event store: links are decided as of each reading's
position, whatever order the readings are asked about in.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from commands import registry as cmd
from commands.context import CommandContext
from commands.readings import RecordSensorData, record_sensor_data
from domain.beliefs import SensorDataRecorded
from domain.registry import AssetRegistered
from domain.soc_readings import SOC_READING_MAX_AGE, SocLink, soc_links, soc_reading_of
from infra.eventstore.memory import MemoryEventStore
from streams.registry_history import RegistryHistory
from streams.soc_triggers import SocSensorIndex, reading_sensor_id

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def reading(values, start=NOW - timedelta(minutes=30), resolution_s=900, **fields) -> SensorDataRecorded:
    defaults = {"unit": "kWh", "source": "ev", "received_at": NOW}
    return SensorDataRecorded(
        sensor_id=5, start=start, resolution_s=resolution_s, values=values, **{**defaults, **fields}
    )


def test_the_newest_measured_value_is_the_state_of_charge():
    found = soc_reading_of(reading([10.0, 12.5, None]), NOW)
    assert found is not None
    assert (found.sensor_id, found.value, found.unit) == (5, 12.5, "kWh")
    assert found.datetime == NOW - timedelta(minutes=15)


@pytest.mark.parametrize(
    "event",
    [
        reading([None, None]),
        reading([50.0], source_type="scheduler"),
        reading([50.0], source_type="forecaster"),
        reading([50.0], start=NOW + timedelta(hours=1), prior=NOW),  # believed before its time: a forecast
        reading([50.0], start=NOW - SOC_READING_MAX_AGE - timedelta(minutes=15)),  # backfilled history
    ],
    ids=["no-values", "scheduler", "forecaster", "forecast", "stale"],
)
def test_readings_that_are_not_a_fresh_measurement_trigger_nothing(event):
    assert soc_reading_of(event, NOW) is None


def test_links_come_from_the_flex_model_in_both_forms():
    def asset(flex_model) -> AssetRegistered:
        return AssetRegistered(asset_id=3, account_id=1, name="a", asset_type="battery", flex_model=flex_model)

    assert soc_links(asset({"sensor": 7, "state-of-charge": {"sensor": 8}})) == {8: SocLink(3, 7)}
    assert soc_links(asset({"state-of-charge": {"sensor": 8}})) == {8: SocLink(3, None)}
    both = [{"sensor": 7, "state-of-charge": {"sensor": 8}}, {"sensor": 9, "state-of-charge": {"sensor": 10}}]
    assert soc_links(asset(both)) == {8: SocLink(3, 7), 10: SocLink(3, 9)}
    assert soc_links(asset({"sensor": 7, "state-of-charge": "8"})) == {}
    assert soc_links(None) == {}


@pytest.fixture
def ctx():
    store = MemoryEventStore()
    yield CommandContext(store, clock=lambda: NOW)
    store.close()


def _sensor(ctx: CommandContext, asset_id: int, name: str, unit: str) -> int:
    return cmd.register_sensor(ctx, cmd.RegisterSensor(asset_id=asset_id, name=name, unit=unit, event_resolution_s=900))


def _set_flex_model(ctx: CommandContext, asset_id: int, flex_model: dict) -> None:
    cmd.change_asset(ctx, cmd.ChangeAsset(asset_id=asset_id, changes={"flex_model": flex_model}))


def _record(ctx: CommandContext, sensor_id: int, value: float) -> int:
    result = record_sensor_data(
        ctx,
        RecordSensorData(
            sensor_id=sensor_id, start=NOW, duration=timedelta(minutes=15), values=[value], unit="kWh", source="ev"
        ),
    )
    return result.global_position


def test_the_index_answers_as_of_each_readings_position(ctx):
    account = cmd.register_account(ctx, cmd.RegisterAccount(name="A"))
    battery = cmd.register_asset(ctx, cmd.RegisterAsset(account_id=account, name="b", asset_type="battery"))
    other = cmd.register_asset(ctx, cmd.RegisterAsset(account_id=account, name="o", asset_type="battery"))
    power = _sensor(ctx, battery, "power", "kW")
    soc = _sensor(ctx, battery, "soc", "kWh")

    before_link = _record(ctx, soc, 10)
    _set_flex_model(ctx, battery, {"sensor": power, "state-of-charge": {"sensor": soc}})
    linked = _record(ctx, soc, 11)
    _set_flex_model(ctx, other, {"state-of-charge": {"sensor": soc}})
    moved = _record(ctx, soc, 12)
    _set_flex_model(ctx, other, {})
    back = _record(ctx, soc, 13)
    _set_flex_model(ctx, battery, {"sensor": power})
    unlinked = _record(ctx, soc, 14)

    index = SocSensorIndex(RegistryHistory(ctx.store))
    index.catch_up(unlinked)
    asked_out_of_order = [unlinked, before_link, back, linked, moved]  # e.g. partitions at different offsets
    answers = {position: index.link_as_of(soc, position) for position in asked_out_of_order}
    assert answers == {
        before_link: None,
        linked: SocLink(battery, power),
        moved: SocLink(other, None),
        back: SocLink(battery, power),
        unlinked: None,
    }
    assert index.is_candidate(soc) and not index.is_candidate(power)


def test_the_index_catches_up_incrementally_and_reads_stream_ids_only(ctx):
    account = cmd.register_account(ctx, cmd.RegisterAccount(name="A"))
    battery = cmd.register_asset(ctx, cmd.RegisterAsset(account_id=account, name="b", asset_type="battery"))
    soc = _sensor(ctx, battery, "soc", "kWh")
    index = SocSensorIndex(RegistryHistory(ctx.store))
    first = _record(ctx, soc, 10)
    assert index.link_as_of(soc, first) is None
    _set_flex_model(ctx, battery, {"state-of-charge": {"sensor": soc}})
    second = _record(ctx, soc, 11)
    assert index.link_as_of(soc, second) == SocLink(battery, None)
    assert index.scanned_to == second

    (recorded,) = ctx.store.read_all(second - 1, limit=1)
    assert reading_sensor_id(recorded) == soc
    (asset_event,) = ctx.store.read_all(second - 2, limit=1)
    assert reading_sensor_id(asset_event) is None


class _CountingStore:
    """The event store, counting the filtered reads of the registry events."""

    def __init__(self, store):
        self.store, self.registry_reads = store, 0

    def read_all(self, after, limit, **filters):
        self.registry_reads += "types" in filters
        return self.store.read_all(after, limit, **filters)


def test_the_index_and_the_registry_share_one_fold_of_the_registry_events(ctx):
    """One read of the registry events answers both views, as of the same positions."""
    account = cmd.register_account(ctx, cmd.RegisterAccount(name="A"))
    battery = cmd.register_asset(ctx, cmd.RegisterAsset(account_id=account, name="b", asset_type="battery"))
    power = _sensor(ctx, battery, "power", "kW")
    soc = _sensor(ctx, battery, "soc", "kWh")
    before_link = _record(ctx, soc, 10)
    _set_flex_model(ctx, battery, {"sensor": power, "state-of-charge": {"sensor": soc}})
    linked = _record(ctx, soc, 11)

    store = _CountingStore(ctx.store)
    history = RegistryHistory(store)
    index = SocSensorIndex(history)
    assert index.link_as_of(soc, linked) == SocLink(battery, power)
    assert store.registry_reads == 1
    registry = history.as_of(linked)  # already folded: nothing read again
    assert registry.asset(battery).flex_model == {"sensor": power, "state-of-charge": {"sensor": soc}}
    assert history.as_of(before_link).asset(battery).flex_model == {}
    assert index.link_as_of(soc, before_link) is None
    assert store.registry_reads == 1
    assert [s.sensor_id for s in registry.sensors_of_asset(battery)] == [power, soc]


def test_a_view_subscribes_before_the_history_folds(ctx):
    """A view that subscribed late would miss the asset events already folded: refused."""
    account = cmd.register_account(ctx, cmd.RegisterAccount(name="A"))
    cmd.register_asset(ctx, cmd.RegisterAsset(account_id=account, name="b", asset_type="battery"))
    history = RegistryHistory(ctx.store)
    history.catch_up(ctx.store.head_position())
    with pytest.raises(RuntimeError, match="subscribe before"):
        SocSensorIndex(history)
