"""Device-gateway contract: every gateway (simulated, MQTT against the real Mosquitto, OCPP 1.6J over
a real WebSocket) behind the dispatcher: dispatch and ack, reject, silence -> expired after the
retries, unreachable -> retried after the device (re)connects, and a platform restart between
dispatch and reply that neither loses nor re-sends the command.

Each gateway comes with a device harness that plays the device's side of its protocol.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import Callable

import pytest
from stores import prepared

from commands.context import CommandContext
from commands.device_commands import load_command, request_command
from commands.registry import RegisterAccount, RegisterAsset, register_account, register_asset
from domain import device_commands as dc
from domain.events import EventMetadata
from infra.eventstore.sqlite import SqliteEventStore
from infra.gateways.mqtt import MqttGateway
from infra.gateways.mqtt_device import MqttDevice
from infra.gateways.ocpp import OcppCentralSystem
from infra.gateways.ocpp_charger import connected_charger
from infra.gateways.simulated import SimulatedDevices, SimulatedGateway
from streams.command_dispatcher import CommandDispatcher


class SimulatedHarness:
    late_replies = True

    def __init__(self):
        self.devices = SimulatedDevices()
        self.device = self.devices.get("dev-1")
        self.attributes = {"simulated": {"device_id": "dev-1"}}

    def gateway(self):
        return SimulatedGateway(self.devices)

    def behave(self, behaviour):
        self.device.behaviour = behaviour

    def connect(self):
        self.device.connected = True

    def disconnect(self):
        self.device.connected = False

    def received(self) -> int:
        return len(self.device.received)

    def release(self) -> int:
        return self.device.release()

    def close(self):
        pass


class MqttHarness:
    late_replies = True

    def __init__(self):
        try:
            socket.create_connection(("127.0.0.1", 1883), timeout=1).close()
        except OSError:
            pytest.skip("no MQTT broker on 127.0.0.1:1883 (mosquitto -d -c /etc/mosquitto/mosquitto.conf)")
        run = uuid.uuid4().hex[:12]
        self.prefix, self.client_id = f"flexledger-contract/{run}", f"flexledger-contract-{run}"
        self.device = MqttDevice(f"dev-{run}", topic_prefix=self.prefix).connect()
        self.attributes = {"mqtt": {"device_id": self.device.device_id}}

    def gateway(self):
        return MqttGateway(topic_prefix=self.prefix, client_id=self.client_id)

    def behave(self, behaviour):
        self.device.behaviour = behaviour

    def connect(self):
        self.device.connect()

    def disconnect(self):
        self.device.disconnect()

    def received(self) -> int:
        return len(self.device.received)

    def release(self) -> int:
        return self.device.release()

    def close(self):
        self.device.disconnect()


class OcppHarness:
    """A simulated charger in its own event loop thread; the central system on an ephemeral port,
    the same port after a restart (so the charger can come back)."""

    late_replies = False  # OCPP answers on the connection the call came on; a restart drops it

    def __init__(self):
        self.attributes = {"ocpp": {"charge_point_id": "CP-C"}}
        self.port = 0
        self.behaviour = "accept"
        self.charger = None
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_forever, daemon=True).start()
        self._stop: asyncio.Event | None = None
        self._done: threading.Event | None = None

    def gateway(self):
        central = OcppCentralSystem(port=self.port, authorize=lambda cp, pw: cp == "CP-C" and pw == "pw",
                                    response_timeout_s=1)
        original_start = central.start

        def start():
            original_start()
            self.port = central.port
            self.url = central.url

        central.start = start
        return central

    def behave(self, behaviour):
        self.behaviour = behaviour
        if self.charger is not None:
            self.charger.behaviour = "silent" if behaviour == "hold" else behaviour

    def connect(self):
        ready, self._done = threading.Event(), threading.Event()

        async def session():
            self._stop = asyncio.Event()
            try:
                async with connected_charger(self.url, "CP-C", "pw", behaviour=self.behaviour) as charger:
                    self.charger = charger
                    self.behave(self.behaviour)
                    ready.set()
                    await self._stop.wait()
            finally:
                self.charger = None
                ready.set()
                self._done.set()

        asyncio.run_coroutine_threadsafe(session(), self._loop)
        assert ready.wait(10) and self.charger is not None, "the charger could not connect"

    def disconnect(self):
        if self._stop is not None and self._done is not None and not self._done.is_set():
            self._loop.call_soon_threadsafe(self._stop.set)
            assert self._done.wait(10)

    def received(self) -> int:
        return len(self.charger.received) if self.charger is not None else self._last_received

    _last_received = 0

    def release(self) -> int:
        return 0  # a reply to a call on a dropped connection cannot be delivered

    def close(self):
        self.disconnect()
        self._loop.call_soon_threadsafe(self._loop.stop)


HARNESSES: dict[str, Callable] = {"simulated": SimulatedHarness, "mqtt": MqttHarness, "ocpp": OcppHarness}


@pytest.fixture(params=[pytest.param(name, marks=[pytest.mark.mqtt] if name == "mqtt" else []) for name in HARNESSES])
def world(request, tmp_path):
    harness = HARNESSES[request.param]()
    store = prepared(SqliteEventStore(tmp_path / "events.db"))
    ctx = CommandContext(store, metadata=EventMetadata(actor="user:1"))
    account = register_account(ctx, RegisterAccount(name="a"))
    asset = register_asset(ctx, RegisterAsset(account_id=account, name="d", asset_type="battery",
                                              attributes=harness.attributes))
    platform = Platform(ctx, harness)
    platform.start()
    if request.param == "ocpp":
        harness.connect()
    yield ctx, asset, harness, platform
    platform.stop()
    harness.close()
    store.close()


class Platform:
    """The dispatcher and a fresh gateway in a thread: what a platform process runs."""

    def __init__(self, ctx, harness):
        self.ctx, self.harness = ctx, harness
        self.stop_event: threading.Event | None = None
        self.thread: threading.Thread | None = None

    def start(self, recover=None):
        dispatcher = CommandDispatcher(self.ctx, {}, recover=recover)
        gateway = self.harness.gateway()
        gateway.set_reply_handler(lambda reply: dispatcher.on_reply(reply, gateway.name))
        dispatcher.gateways[gateway.name] = gateway
        gateway.start()
        self.gateway, self.stop_event = gateway, threading.Event()
        self.thread = threading.Thread(target=dispatcher.run, args=(self.stop_event, 0.02), daemon=True)
        self.thread.start()

    def stop(self):
        if self.thread is not None:
            self.stop_event.set()
            self.thread.join(10)
            self.gateway.stop()
            self.thread = None


def _command(ctx, asset, **kw):
    request = dc.DeviceCommandRequest(asset_id=asset, action="set_power", parameters={"power_kw": 2.0}, **kw)
    return request_command(ctx, request)[0].command_id


def _wait(ctx, command_id, status, timeout_s=10.0):
    deadline = time.monotonic() + timeout_s
    while True:
        head = ctx.store.head_position()
        state = load_command(ctx, command_id)[0]
        if state.status == status:
            return state
        if time.monotonic() > deadline:
            raise AssertionError(f"{state.status} is not {status}")
        ctx.store.wait_for_append(head, 0.1)


def test_dispatch_and_ack(world):
    ctx, asset, harness, _ = world
    command = _command(ctx, asset)
    assert _wait(ctx, command, dc.ACKNOWLEDGED).attempts == 1
    assert harness.received() == 1


def test_reject(world):
    ctx, asset, harness, _ = world
    harness.behave("reject")
    assert _wait(ctx, _command(ctx, asset), dc.REJECTED).status_reason


def test_timeout_expires_after_retries(world):
    ctx, asset, harness, _ = world
    harness.behave("silent")
    command = _command(ctx, asset, ack_timeout_s=0.4, max_attempts=2, retry_backoff_s=0.05)
    assert _wait(ctx, command, dc.EXPIRED).attempts == 2
    assert harness.received() == 2


def test_retry_after_reconnect(world):
    ctx, asset, harness, _ = world
    harness.disconnect()
    # unreachable, or (MQTT, before the gateway heard the device went offline) unanswered: a retry either way
    command = _command(ctx, asset, retry_backoff_s=0.1, max_attempts=20, ack_timeout_s=0.5)
    _wait(ctx, command, dc.SCHEDULED)
    harness.connect()
    assert _wait(ctx, command, dc.ACKNOWLEDGED).attempts >= 2
    assert harness.received() == 1


def test_restart_between_dispatch_and_ack_sends_nothing_twice(world):
    ctx, asset, harness, platform = world
    harness.behave("hold")
    command = _command(ctx, asset, ack_timeout_s=1.5, max_attempts=1)
    _wait(ctx, command, dc.DISPATCHED)
    deadline = time.monotonic() + 5
    while harness.received() < 1 and time.monotonic() < deadline:
        ctx.store.wait_for_append(ctx.store.head_position(), 0.05)  # the device's side runs in its own thread
    received = harness.received()
    assert received == 1
    platform.stop()
    released = harness.release()  # the device answers while the platform is down
    platform.start(recover=lambda: (ctx.store.head_position(), [str(command)]))
    if harness.late_replies:
        assert released == 1
        _wait(ctx, command, dc.ACKNOWLEDGED)
    else:  # the reply died with the connection: the command expires once, it is not sent again
        _wait(ctx, command, dc.EXPIRED)
    assert harness.received() == received
