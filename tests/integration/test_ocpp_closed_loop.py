"""The closed loop over real sockets: a simulated OCPP 1.6J charger boots, starts a transaction and
sends MeterValues with its state of charge; the reading triggers a schedule; the schedule becomes a
SetChargingProfile (the device opted in with ``schedule_setpoints``); the charger accepts; the
command reads acknowledged; the charger stops the transaction. Every step is an event, in order,
and the command names the schedule it implements (reason, correlation id)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from device_support import wait_for_status_async
from scheduling_support import SchedulingHarness
from test_scheduling_soc_readings import SocWorld

from commands import registry as cmd
from domain import device_commands as dc
from domain.chargers import charger_stream, password_sha256
from infra.gateways.ocpp_charger import connected_charger

KEY = "loop-key"


@pytest.fixture
def world(tmp_path):
    harness = SchedulingHarness(tmp_path, ocpp_enabled=True, ocpp_port=0)
    try:
        soc_world = SocWorld(harness, link=False)
        soc_world.soc = soc_world._create_soc_sensor(unit="%")
        soc_world.link()
        battery = harness.world.assets["battery"]
        attributes = {"schedule_setpoints": True, "ocpp": {
            "charge_point_id": "CP-L", "password_sha256": password_sha256(KEY), "sensors": {"SoC": soc_world.soc}}}
        change = cmd.ChangeAsset(asset_id=battery, changes={"attributes": attributes})
        cmd.change_asset(harness.platform.commands, change)
        harness.wait_projected()
        yield soc_world
    finally:
        harness.close()


def _commands_of(store, asset_id: int):
    return [e for e in store.read_all(0, 100_000, stream_prefix="command-")
            if e.type == "DeviceCommandRequested" and e.data["asset_id"] == asset_id]


async def test_soc_reading_to_schedule_to_charging_profile_accepted(world):
    harness, store = world.h, world.h.platform.store
    battery = harness.world.assets["battery"]
    central = harness.platform.devices.gateways["ocpp"]
    async with connected_charger(central.url, "CP-L", KEY) as charger:
        await charger.boot()
        await charger.start_transaction(meter_start_wh=0)
        await charger.meter_values(datetime.now(UTC), soc_percent=40)
        received = await charger.wait_received(1, timeout_s=60)
        assert received[0][0] == "SetChargingProfile"
        profile = received[0][1]["cs_charging_profiles"]
        assert profile["charging_profile_purpose"] == "TxProfile"
        assert profile["charging_profile_kind"] == "Absolute"
        periods = profile["charging_schedule"]["charging_schedule_period"]
        assert len(periods) > 1 and all(0 <= p["limit"] <= 20_000 for p in periods)
        (requested,) = _commands_of(store, battery)
        state = await wait_for_status_async(harness.platform.commands, requested.data["command_id"], dc.ACKNOWLEDGED)
        await charger.stop_transaction(meter_stop_wh=5_000)
        await asyncio.to_thread(harness.wait_projected)

    schedule_id = state.requested.reason.removeprefix("schedule ")
    (computed,) = [e for e in store.read_stream(f"schedule-{schedule_id}") if e.type == "ScheduleComputed"]
    assert computed.data["trigger"] == "reading"
    soc_readings = [e for e in store.read_stream(f"sensordata-{world.soc}") if e.metadata.source == "ocpp"]
    charger_events = store.read_stream(charger_stream(battery))
    command_events = store.read_stream(dc.command_stream(state.command_id))
    assert [e.type for e in charger_events] == ["ChargerBooted", "ChargingSessionStarted", "ChargingSessionStopped"]
    assert [e.type for e in command_events] == [
        "DeviceCommandRequested", "DeviceCommandDispatched", "DeviceCommandAcknowledged"]
    ordered = [charger_events[1], soc_readings[0], computed, *command_events, charger_events[2]]
    positions = [e.global_position for e in ordered]
    assert positions == sorted(positions)
    chain = [soc_readings[0], computed, *command_events]
    assert len({e.metadata.correlation_id for e in chain}) == 1 and chain[0].metadata.correlation_id
    assert command_events[0].metadata.causation_id == str(computed.event_id)
