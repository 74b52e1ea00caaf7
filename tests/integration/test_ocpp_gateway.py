"""OCPP 1.6J over a real WebSocket on 127.0.0.1: a charger simulated with the ``ocpp`` package
connects (Basic auth) to the platform's central system; RemoteStart/Stop, SetChargingProfile and
ChangeAvailability reach it; its Accepted/Rejected/silence moves the command's lifecycle; its
messages reach the platform's sink."""

from __future__ import annotations

import pytest
import websockets
from device_support import running, wait_for_status_async
from stores import prepared

from commands.context import CommandContext
from commands.device_commands import request_command
from commands.registry import RegisterAccount, RegisterAsset, register_account, register_asset
from domain import device_commands as dc
from domain.events import EventMetadata
from infra.eventstore.sqlite import SqliteEventStore
from infra.gateways.ocpp import OcppCentralSystem
from infra.gateways.ocpp_charger import connected_charger
from streams.command_dispatcher import CommandDispatcher

PASSWORD = "cp-secret-1"


@pytest.fixture
def ocpp_world(tmp_path):
    store = prepared(SqliteEventStore(tmp_path / "events.db"))
    ctx = CommandContext(store, metadata=EventMetadata(actor="user:1"))
    account = register_account(ctx, RegisterAccount(name="a"))
    asset = register_asset(ctx, RegisterAsset(
        account_id=account, name="evse", asset_type="one-way_evse",
        attributes={"ocpp": {"charge_point_id": "CP-1", "connector_id": 1}},
    ))
    messages: list[tuple[str, str, dict]] = []
    central = OcppCentralSystem(
        port=0, authorize=lambda cp, password: (cp, password) == ("CP-1", PASSWORD),
        on_message=lambda cp, action, payload: messages.append((cp, action, payload)), response_timeout_s=2,
    )
    dispatcher = CommandDispatcher(ctx, {"ocpp": central})
    with running(dispatcher):
        yield ctx, asset, central, messages
    store.close()


def _request(ctx, asset, action, **kw):
    request = dc.DeviceCommandRequest(asset_id=asset, action=action, **kw)
    return request_command(ctx, request)[0].command_id


async def test_commands_reach_the_charger_and_its_answers_move_the_lifecycle(ocpp_world):
    ctx, asset, central, messages = ocpp_world
    async with connected_charger(central.url, "CP-1", PASSWORD) as charger:
        await charger.boot(vendor="Alfen", model="Eve Single", firmware="4.2")
        await charger.status("Preparing")
        started = _request(ctx, asset, "start_charging", parameters={"id_tag": "EV-7"})
        await wait_for_status_async(ctx, started, dc.ACKNOWLEDGED)
        transaction_id = await charger.start_transaction(meter_start_wh=1000)
        profile = _request(ctx, asset, "set_charging_profile",
                           parameters={"limits_kw": [11, 7.4, 0], "slot_duration_s": 900})
        state = await wait_for_status_async(ctx, profile, dc.ACKNOWLEDGED)
        assert state.response["status"] == "Accepted"
        stopped = _request(ctx, asset, "stop_charging")
        await wait_for_status_async(ctx, stopped, dc.ACKNOWLEDGED)

        received = await charger.wait_received(3)
        assert [action for action, _ in received] == [
            "RemoteStartTransaction", "SetChargingProfile", "RemoteStopTransaction"]
        assert received[0][1] == {"id_tag": "EV-7", "connector_id": 1}
        sent_profile = received[1][1]["cs_charging_profiles"]
        assert sent_profile["charging_profile_purpose"] == "TxProfile"
        assert sent_profile["transaction_id"] == transaction_id
        periods = sent_profile["charging_schedule"]["charging_schedule_period"]
        assert [(p["start_period"], p["limit"]) for p in periods] == [(0, 11000), (900, 7400), (1800, 0)]
        assert received[2][1] == {"transaction_id": transaction_id}
        await charger.stop_transaction(meter_stop_wh=9000)
    actions = [action for _, action, _ in messages]
    assert actions == ["BootNotification", "StatusNotification", "StartTransaction", "StopTransaction"]
    assert messages[0][2]["charge_point_vendor"] == "Alfen"


async def test_rejected_and_silent_chargers(ocpp_world):
    ctx, asset, central, _ = ocpp_world
    async with connected_charger(central.url, "CP-1", PASSWORD, behaviour="reject") as charger:
        rejected = _request(ctx, asset, "set_power", parameters={"power_kw": 3.7})
        state = await wait_for_status_async(ctx, rejected, dc.REJECTED)
        assert state.response["status"] == "Rejected"
        charger.behaviour = "silent"
        silent = _request(ctx, asset, "change_availability", parameters={"operative": False},
                          ack_timeout_s=0.5, max_attempts=2, retry_backoff_s=0.1)
        state = await wait_for_status_async(ctx, silent, dc.EXPIRED)
        assert state.attempts == 2
        assert [a for a, _ in await charger.wait_received(3)][1:] == ["ChangeAvailability", "ChangeAvailability"]


async def test_disconnected_charger_gets_the_command_after_it_connects(ocpp_world):
    ctx, asset, central, _ = ocpp_world
    command = _request(ctx, asset, "set_power", parameters={"power_kw": 7}, retry_backoff_s=0.2, max_attempts=20)
    await wait_for_status_async(ctx, command, dc.SCHEDULED)  # unreachable: a retry is scheduled
    async with connected_charger(central.url, "CP-1", PASSWORD) as charger:
        state = await wait_for_status_async(ctx, command, dc.ACKNOWLEDGED)
        assert state.attempts >= 2
        assert len(await charger.wait_received(1)) == 1


async def test_wrong_password_or_path_is_refused(ocpp_world):
    _, _, central, _ = ocpp_world
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with connected_charger(central.url, "CP-1", "wrong"):
            pass
    assert refused.value.response.status_code == 401
    with pytest.raises(websockets.InvalidStatus):
        async with connected_charger(central.url, "CP-2", PASSWORD):
            pass
