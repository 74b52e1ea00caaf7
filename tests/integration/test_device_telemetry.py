"""Device telemetry as readings (SQLite event store): MQTT measurements on the device's own sensors
only, OCPP MeterValues by measurand, charger messages as events; unknown devices are ignored."""

from __future__ import annotations

import pytest
from stores import prepared

from commands.context import CommandContext
from commands.device_telemetry import ChargerSink, TelemetrySink
from commands.registry import (
    RegisterAccount,
    RegisterAsset,
    RegisterSensor,
    register_account,
    register_asset,
    register_sensor,
)
from domain.chargers import charger_password_ok, charger_stream, password_sha256
from infra.eventstore.sqlite import SqliteEventStore


@pytest.fixture
def world(tmp_path):
    store = prepared(SqliteEventStore(tmp_path / "events.db"))
    ctx = CommandContext(store)
    account = register_account(ctx, RegisterAccount(name="a"))
    ids = {}
    for name in ("hp", "other"):
        ids[name] = register_asset(ctx, RegisterAsset(account_id=account, name=name, asset_type="heat_pump"))
        ids[f"{name}/power"] = register_sensor(ctx, RegisterSensor(asset_id=ids[name], name="power", unit="kW",
                                                                   event_resolution_s=900))
    yield store, ctx, ids
    store.close()


def _readings(store, sensor_id):
    return [e.data for e in store.read_stream(f"sensordata-{sensor_id}")]


def test_mqtt_telemetry_lands_on_the_devices_own_sensors_only(world):
    store, ctx, ids = world
    sink = TelemetrySink(ctx, lambda device: {"id": ids["hp"]} if device == "hp-1" else None)
    sink("hp-1", [{"sensor_id": ids["hp/power"], "value": 1500, "unit": "W", "at": "2026-01-05T12:07:00Z"},
                  {"sensor_id": ids["other/power"], "value": 9, "unit": "kW"}])
    sink("unknown", {"sensor_id": ids["hp/power"], "value": 1, "unit": "kW"})
    (reading,) = _readings(store, ids["hp/power"])
    assert (reading["values"], reading["start"], reading["source"]) == ([1.5], "2026-01-05T12:00:00Z", "mqtt:hp-1")
    assert _readings(store, ids["other/power"]) == []


def test_charger_messages_and_meter_values(world):
    store, ctx, ids = world
    asset = {"id": ids["hp"], "attributes": {"ocpp": {"sensors": {"Power.Active.Import": ids["hp/power"]}}}}
    sink = ChargerSink(ctx, lambda cp: asset if cp == "CP-1" else None)
    sink("CP-1", "BootNotification", {"charge_point_vendor": "V", "charge_point_model": "M"})
    sink("CP-1", "StatusNotification", {"connector_id": 1, "error_code": "NoError", "status": "Charging"})
    sink("CP-1", "MeterValues", {"connector_id": 1, "meter_value": [{"timestamp": "2026-01-05T12:15:00Z",
        "sampled_value": [{"value": "7400", "measurand": "Power.Active.Import", "unit": "W"},
                          {"value": "55", "measurand": "SoC", "unit": "Percent"}]}]})  # fmt: skip
    sink("CP-2", "BootNotification", {"charge_point_vendor": "V", "charge_point_model": "M"})
    events = store.read_stream(charger_stream(ids["hp"]))
    assert [(e.type, e.metadata.actor) for e in events] == [
        ("ChargerBooted", "charger:CP-1"), ("ChargerStatusChanged", "charger:CP-1")]
    (reading,) = _readings(store, ids["hp/power"])
    assert reading["values"] == [7.4] and reading["start"] == "2026-01-05T12:15:00Z"


def test_charger_key_check():
    attributes = {"ocpp": {"password_sha256": password_sha256("s3cret")}}
    assert charger_password_ok(attributes, "s3cret")
    assert not charger_password_ok(attributes, "guess") and not charger_password_ok({}, "s3cret")
