"""The embedded platform with its OCPP central system on (FLEXLEDGER_OCPP_ENABLED, an ephemeral port):
a simulated OCPP 1.6J charger connects over a real WebSocket with its authorization key; its boot,
connector states and session become events, its MeterValues become readings on the EVSE's sensor;
a command through the Realto API reaches it as SetChargingProfile and reads acknowledged."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import websockets
from device_support import wait_for_status_async
from test_api_support import ApiHarness

from commands import registry as cmd
from domain import device_commands as dc
from domain.chargers import charger_stream, password_sha256
from infra.gateways.ocpp_charger import connected_charger

KEY = "evse-key-123"


@pytest.fixture
def api(tmp_path):
    with ApiHarness(tmp_path, ocpp_enabled=True, ocpp_port=0) as harness:
        asset = harness.asset("CS 1")
        attributes = {"ocpp": {"charge_point_id": "CP-9", "password_sha256": password_sha256(KEY),
                               "sensors": {"Power.Active.Import": harness.sensor("CS 1/power")}}}
        cmd.change_asset(harness.platform.commands, cmd.ChangeAsset(asset_id=asset, changes={"attributes": attributes}))
        assert harness.platform.wait_for(harness.head())
        yield harness


async def test_charger_messages_become_events_and_readings_and_commands_reach_it(api):
    central = api.platform.devices.gateways["ocpp"]
    asset = api.asset("CS 1")
    async with connected_charger(central.url, "CP-9", KEY) as charger:
        await charger.boot(vendor="Alfen", model="Eve", firmware="5.1")
        await charger.status("Preparing")
        await charger.start_transaction(meter_start_wh=500)
        await charger.status("Charging")
        await charger.meter_values(datetime(2026, 1, 5, 12, 0, tzinfo=UTC), power_w=7400)
        response = api.client.post(
            f"/api/v1/entities/{asset}/commands", headers={"Authorization": f"Bearer {api.token('alice@alpha.test')}"},
            json={"command": "set_charging_profile", "parameters": {"limits_kw": [7.4, 3.7], "slot_duration_s": 900}},
        )
        assert response.status_code == 201, response.text
        await wait_for_status_async(api.platform.commands, response.json()["id"], dc.ACKNOWLEDGED)
        received = await charger.wait_received(1)
        assert received[0][0] == "SetChargingProfile"
        assert received[0][1]["cs_charging_profiles"]["charging_profile_purpose"] == "TxProfile"
        await charger.stop_transaction(meter_stop_wh=12_000)
    events = api.platform.store.read_stream(charger_stream(asset))
    assert [e.type for e in events] == ["ChargerBooted", "ChargerStatusChanged", "ChargingSessionStarted",
                                        "ChargerStatusChanged", "ChargingSessionStopped"]
    assert events[0].data["vendor"] == "Alfen" and events[0].metadata.actor == "charger:CP-9"
    assert events[4].data["meter_stop_wh"] == 12_000
    assert api.platform.wait_for(api.head())
    assert api.readings_count(api.sensor("CS 1/power")) == 1


async def test_a_charger_without_the_right_key_is_refused(api):
    central = api.platform.devices.gateways["ocpp"]
    with pytest.raises(websockets.InvalidStatus):
        async with connected_charger(central.url, "CP-9", "wrong-key"):
            pass
    with pytest.raises(websockets.InvalidStatus):
        async with connected_charger(central.url, "CP-unknown", KEY):
            pass
