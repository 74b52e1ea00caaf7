"""MQTT dispatch against the real Mosquitto (127.0.0.1:1883): setpoints acked, nacked, timed out
(expired after retries), an offline device served after it comes back, telemetry handed on, and a
platform restart between dispatch and ack (the persistent session delivers the late ack; nothing
is sent twice). Each test uses its own topic prefix and client ids."""

from __future__ import annotations

import socket
import threading
import uuid

import pytest
from device_support import running, wait_for_status
from stores import prepared

from commands.context import CommandContext
from commands.device_commands import request_command
from commands.registry import RegisterAccount, RegisterAsset, register_account, register_asset
from domain import device_commands as dc
from domain.events import EventMetadata
from infra.eventstore.sqlite import SqliteEventStore
from infra.gateways.mqtt import MqttGateway
from infra.gateways.mqtt_device import MqttDevice
from streams.command_dispatcher import CommandDispatcher

pytestmark = pytest.mark.mqtt
HOST, PORT = "127.0.0.1", 1883


def _broker_up() -> bool:
    try:
        with socket.create_connection((HOST, PORT), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def mqtt_world(tmp_path):
    if not _broker_up():
        pytest.skip(f"no MQTT broker on {HOST}:{PORT} (start it: mosquitto -d -c /etc/mosquitto/mosquitto.conf)")
    store = prepared(SqliteEventStore(tmp_path / "events.db"))
    ctx = CommandContext(store, metadata=EventMetadata(actor="user:1"))
    account = register_account(ctx, RegisterAccount(name="a"))
    run = uuid.uuid4().hex[:12]
    device_id = f"hp-{run}"
    asset = register_asset(ctx, RegisterAsset(
        account_id=account, name="heat pump", asset_type="heat_pump", attributes={"mqtt": {"device_id": device_id}}
    ))
    prefix = f"flexledger-test/{run}"
    telemetry: list = []

    def gateway() -> MqttGateway:
        return MqttGateway(HOST, PORT, prefix, client_id=f"flexledger-test-{run}",
                           on_telemetry=lambda device, payload: telemetry.append((device, payload)))

    device = MqttDevice(device_id, HOST, PORT, prefix).connect()
    yield ctx, asset, device, gateway, telemetry
    device.disconnect()
    store.close()


def _setpoint(ctx, asset, power_kw: float, **kw):
    request = dc.DeviceCommandRequest(asset_id=asset, action="set_power", parameters={"power_kw": power_kw}, **kw)
    return request_command(ctx, request)[0].command_id


def test_setpoints_acked_nacked_and_timed_out(mqtt_world):
    ctx, asset, device, gateway, telemetry = mqtt_world
    with running(CommandDispatcher(ctx, {"mqtt": gateway()})):
        acked = _setpoint(ctx, asset, 2.5)
        state = wait_for_status(ctx, acked, dc.ACKNOWLEDGED)
        assert state.response["device"] == device.device_id
        assert device.received[0] == {"command_id": str(acked), "attempt": 1, "action": "set_power",
                                      "parameters": {"power_kw": 2.5}}
        device.behaviour = "reject"
        nacked = _setpoint(ctx, asset, 99)
        assert wait_for_status(ctx, nacked, dc.REJECTED).status_reason == "setpoint out of range"
        device.behaviour = "silent"
        silent = _setpoint(ctx, asset, 1, ack_timeout_s=0.3, max_attempts=3, retry_backoff_s=0.05)
        state = wait_for_status(ctx, silent, dc.EXPIRED)
        assert state.attempts == 3
        assert [c["attempt"] for c in device.received if c["command_id"] == str(silent)] == [1, 2, 3]


def test_telemetry_reaches_the_sink(mqtt_world):
    ctx, _asset, device, gateway, telemetry = mqtt_world
    mqtt_gateway = gateway()
    arrived = threading.Event()
    mqtt_gateway.on_telemetry = lambda device_id, payload: (telemetry.append((device_id, payload)), arrived.set())
    with running(CommandDispatcher(ctx, {"mqtt": mqtt_gateway})):
        device.publish_telemetry({"sensor_id": 4, "value": 1.9, "unit": "kW"})
        assert arrived.wait(5)
    assert telemetry == [(device.device_id, {"sensor_id": 4, "value": 1.9, "unit": "kW"})]


def test_offline_device_gets_the_setpoint_when_back(mqtt_world):
    ctx, asset, device, gateway, _ = mqtt_world
    device.disconnect()
    with running(CommandDispatcher(ctx, {"mqtt": gateway()})):
        # unreachable (the gateway knows the device is offline) or unanswered: either way a retry is scheduled
        command = _setpoint(ctx, asset, 4, retry_backoff_s=0.1, max_attempts=20, ack_timeout_s=0.5)
        wait_for_status(ctx, command, dc.SCHEDULED)
        device.connect()
        state = wait_for_status(ctx, command, dc.ACKNOWLEDGED)
        assert state.attempts >= 2


def test_restart_between_dispatch_and_ack(mqtt_world):
    ctx, asset, device, gateway, _ = mqtt_world
    device.behaviour = "hold"
    with running(CommandDispatcher(ctx, {"mqtt": gateway()})):
        command = _setpoint(ctx, asset, 3, ack_timeout_s=30)
        wait_for_status(ctx, command, dc.DISPATCHED)
        device.wait_received(1)
    assert device.release() == 1  # the platform is down: the broker keeps the ack for its session
    recover = lambda: (ctx.store.head_position(), [str(command)])  # noqa: E731 - the read model's answer
    with running(CommandDispatcher(ctx, {"mqtt": gateway()}, recover=recover)):
        wait_for_status(ctx, command, dc.ACKNOWLEDGED)
    assert len(device.received) == 1
