"""Device commands through real protocols: commands/s dispatched and acknowledged, and the latency
from a command's request to its acknowledgement, for a simulated OCPP 1.6J charger (WebSocket on
127.0.0.1) and a simulated MQTT device (the Mosquitto on 127.0.0.1:1883), with the dispatcher on a
SQLite event store. Prints figures; asserts nothing.

    .venv/bin/python bench/devices.py [--commands 300] [--clients 1] [--gateways simulated,ocpp,mqtt]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import median, percentile  # noqa: E402
from commands.context import CommandContext  # noqa: E402
from commands.device_commands import load_command, request_command  # noqa: E402
from commands.registry import RegisterAccount, RegisterAsset, register_account, register_asset  # noqa: E402
from domain import device_commands as dc  # noqa: E402
from infra.eventstore.sqlite import SqliteEventStore  # noqa: E402
from infra.gateways.mqtt import MqttGateway  # noqa: E402
from infra.gateways.mqtt_device import MqttDevice  # noqa: E402
from infra.gateways.ocpp import OcppCentralSystem  # noqa: E402
from infra.gateways.ocpp_charger import connected_charger  # noqa: E402
from infra.gateways.simulated import SimulatedGateway  # noqa: E402
from streams.command_dispatcher import CommandDispatcher  # noqa: E402


def _ocpp_device(stop: threading.Event):
    central = OcppCentralSystem(port=0, authorize=lambda cp, pw: True)
    ready = threading.Event()

    def run_charger() -> None:
        async def session():
            async with connected_charger(central.url, "CP-B", "x"):
                ready.set()
                while not stop.is_set():
                    await asyncio.sleep(0.05)

        asyncio.run(session())

    def connect() -> None:
        threading.Thread(target=run_charger, daemon=True).start()
        assert ready.wait(10), "the charger did not connect"

    return central, {"ocpp": {"charge_point_id": "CP-B"}}, connect


def _mqtt_device(stop: threading.Event):
    run = uuid.uuid4().hex[:8]
    prefix = f"flexledger-bench/{run}"
    device = MqttDevice(f"dev-{run}", topic_prefix=prefix)
    gateway = MqttGateway(topic_prefix=prefix, client_id=f"flexledger-bench-{run}")
    return gateway, {"mqtt": {"device_id": device.device_id}}, device.connect


def _simulated_device(stop: threading.Event):
    return SimulatedGateway(), {"simulated": {"device_id": "b"}}, lambda: None


DEVICES = {"ocpp": _ocpp_device, "mqtt": _mqtt_device, "simulated": _simulated_device}


def bench(name: str, n_commands: int, clients: int) -> None:
    stop = threading.Event()
    gateway, attributes, connect = DEVICES[name](stop)
    with tempfile.TemporaryDirectory() as home:
        store = SqliteEventStore(Path(home) / "events.db")
        ctx = CommandContext(store)
        account = register_account(ctx, RegisterAccount(name="bench"))
        asset = register_asset(ctx, RegisterAsset(account_id=account, name="d", asset_type="battery",
                                                  attributes=attributes))
        dispatcher = CommandDispatcher(ctx, {gateway.name: gateway})
        gateway.start()
        connect()
        thread = threading.Thread(target=dispatcher.run, args=(stop, 0.01), daemon=True)
        thread.start()
        started = time.perf_counter()
        def request(i: int) -> uuid.UUID:
            command = dc.DeviceCommandRequest(asset_id=asset, action="set_power", parameters={"power_kw": i % 11})
            return request_command(ctx, command)[0].command_id

        with ThreadPoolExecutor(clients) as pool:  # API clients: concurrent requests, appends commit in groups
            ids = list(pool.map(request, range(n_commands)))
        while any(load_command(ctx, c)[0].status != dc.ACKNOWLEDGED for c in ids):
            store.wait_for_append(store.head_position(), 0.1)
            if time.perf_counter() - started > 120:
                raise SystemExit(f"{name}: not all commands acknowledged in 120 s")
        elapsed = time.perf_counter() - started
        latencies = []
        for command_id in ids:
            recorded = store.read_stream(dc.command_stream(command_id))
            assert recorded[-1].type == "DeviceCommandAcknowledged", recorded[-1].type
            latencies.append((recorded[-1].metadata.recorded_at - recorded[0].metadata.recorded_at).total_seconds())
        stop.set()
        thread.join(5)
        gateway.stop()
        store.close()
    print(f"{name:9s} {n_commands} commands from {clients} clients: {n_commands / elapsed:,.0f} acknowledged/s; "
          f"request -> ack p50 {median(latencies) * 1000:.1f} ms, p99 {percentile(latencies, 99) * 1000:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commands", type=int, default=300)
    parser.add_argument("--gateways", default="simulated,ocpp,mqtt")
    parser.add_argument("--clients", type=int, default=1)
    args = parser.parse_args()
    for name in args.gateways.split(","):
        bench(name, args.commands, args.clients)


if __name__ == "__main__":
    main()
