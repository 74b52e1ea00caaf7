"""Device control, composed: the gateways the settings ask for, the dispatcher, and its thread.

Built by :mod:`infra.bootstrap` (the composition root). The simulated gateway always runs unless
``FLEXLEDGER_DEVICES_SIMULATED=false``; the OCPP central system with ``FLEXLEDGER_OCPP_ENABLED``
(``ws://FLEXLEDGER_OCPP_HOST:FLEXLEDGER_OCPP_PORT/ocpp/{chargePointId}``), the MQTT gateway with
``FLEXLEDGER_MQTT_ENABLED`` (broker ``FLEXLEDGER_MQTT_HOST``:``FLEXLEDGER_MQTT_PORT``).
"""

from __future__ import annotations

import logging
import threading

import sqlalchemy as sa

from commands.context import CommandContext
from commands.device_telemetry import ChargerSink, TelemetrySink, charger_password_ok
from domain.ports.checkpoints import CheckpointStore
from domain.ports.device_gateway import DeviceGateway
from domain.ports.event_store import EventStore
from infra.checkpoints import load_checkpoints
from infra.gateways.simulated import SimulatedDevices, SimulatedGateway
from infra.settings import Settings
from projections.device_commands import DeviceCommandsProjection, open_commands, pending_commands
from projections.devices_query import asset_by_device
from streams.command_dispatcher import CommandDispatcher
from streams.schedule_setpoints import ScheduleSetpoints

log = logging.getLogger(__name__)


def recover_from(read_engine: sa.Engine, single_partition: bool = True):
    """The dispatcher's recovery: the commands read model's checkpoint and its open commands, read together.

    With a partitioned log (Kafka) a partition that never carried a command has no checkpoint row,
    so no row tells how far the read model is complete: the dispatcher then reads every command
    event from the start (the open commands are still taken from the read model).
    """

    def recover() -> tuple[int, list[str]]:
        with read_engine.connect() as conn, conn.begin():
            positions = load_checkpoints(conn, DeviceCommandsProjection.name).values()
            return (min(positions, default=0) if single_partition else 0), open_commands(conn)

    return recover


class DeviceControl:
    """The gateways and the dispatcher of one platform process."""

    def __init__(
        self,
        dispatcher: CommandDispatcher,
        simulated: SimulatedDevices | None = None,
        setpoints: ScheduleSetpoints | None = None,
    ):
        self.dispatcher, self.simulated, self.setpoints = dispatcher, simulated, setpoints
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def gateways(self) -> dict[str, DeviceGateway]:
        return self.dispatcher.gateways

    def start(self) -> None:
        if self._threads:
            return
        for gateway in self.gateways.values():
            gateway.start()
        self._stop.clear()
        targets = [("dispatcher", self.dispatcher.run)]
        if self.setpoints is not None:
            targets.append(("setpoints", self.setpoints.run))
        for name, target in targets:
            thread = threading.Thread(target=target, args=(self._stop,), name=f"flexledger-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        if not self._threads:
            return
        self._stop.set()
        for thread in self._threads:
            thread.join(10)
        self._threads.clear()
        for gateway in self.gateways.values():
            gateway.stop()


def build_gateways(
    settings: Settings, store: EventStore, read_engine: sa.Engine, checkpoints: CheckpointStore | None = None
) -> dict[str, DeviceGateway]:
    """The gateways the settings enable (explicit choices, no string imports); ``checkpoints`` keeps
    what the chargers' session feed recorded."""
    gateways: dict[str, DeviceGateway] = {}
    ctx = CommandContext(store)
    if settings.ocpp_enabled:
        from infra.gateways.ocpp import OcppCentralSystem

        def authorize(charge_point_id: str, password: str) -> bool:
            with read_engine.connect() as conn:
                asset = asset_by_device(conn, "ocpp", charge_point_id)
            return asset is not None and charger_password_ok(asset["attributes"], password)

        charger_sink = ChargerSink(ctx, lambda cp: _asset(read_engine, "ocpp", cp), checkpoints)
        gateways["ocpp"] = OcppCentralSystem(settings.ocpp_host, settings.ocpp_port, authorize, charger_sink)
    if settings.mqtt_enabled:
        from infra.gateways.mqtt import MqttGateway

        telemetry = TelemetrySink(ctx, lambda device_id: _asset(read_engine, "mqtt", device_id))
        gateways["mqtt"] = MqttGateway(
            settings.mqtt_host, settings.mqtt_port, settings.mqtt_topic_prefix, on_telemetry=telemetry
        )
    return gateways


def _asset(read_engine: sa.Engine, gateway: str, address: str) -> dict | None:
    with read_engine.connect() as conn:
        return asset_by_device(conn, gateway, address)


def build_device_control(
    settings: Settings, store: EventStore, read_engine: sa.Engine, checkpoints: CheckpointStore
) -> DeviceControl:
    """Gateways, dispatcher and schedule setpoints, not started; ``checkpoints`` is the platform's one
    checkpoint store (the setpoints keep theirs there, read when :meth:`DeviceControl.start` runs them)."""
    gateways = build_gateways(settings, store, read_engine, checkpoints)
    simulated = None
    if settings.devices_simulated:
        simulated = SimulatedDevices()
        gateways["simulated"] = SimulatedGateway(simulated)
    dispatcher = CommandDispatcher(
        CommandContext(store), gateways, recover=recover_from(read_engine, single_partition=settings.log == "memory")
    )

    def pending(asset_id: int) -> list[tuple[str, str]]:
        with read_engine.connect() as conn:
            return pending_commands(conn, asset_id)

    setpoints = ScheduleSetpoints(CommandContext(store), checkpoints, pending)
    return DeviceControl(dispatcher, simulated, setpoints)
