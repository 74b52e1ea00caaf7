"""In-process simulated devices: the embedded default's gateway and the device-gateway test fake.

A :class:`SimulatedDevice` can be told to ``accept``, ``reject``, stay ``silent`` (never
reply), ``hold`` (keep the commands until :meth:`SimulatedDevice.release` replies to them) or
be ``disconnect``-ed (the gateway reports it unreachable). The devices live in a
:class:`SimulatedDevices` park that outlives a gateway, so a test can restart the platform
between a dispatch and the device's reply.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Literal

from domain.ports.device_gateway import DeviceReply, OutgoingCommand, ReplyHandler, SendResult, SendStatus

Behaviour = Literal["accept", "reject", "silent", "hold"]


@dataclass
class SimulatedDevice:
    """One device: what it received, and how it answers."""

    device_id: str
    behaviour: Behaviour = "accept"
    connected: bool = True
    supported_actions: frozenset[str] | None = None
    received: list[OutgoingCommand] = field(default_factory=list)
    held: list[OutgoingCommand] = field(default_factory=list)
    park: SimulatedDevices | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def release(self, accepted: bool = True) -> int:
        """Answer every held command through the gateway the device is attached to now."""
        with self._lock:
            held, self.held = self.held, []
        for command in held:
            self._reply(command, accepted)
        return len(held)

    def _reply(self, command: OutgoingCommand, accepted: bool) -> None:
        response = {"status": "Accepted" if accepted else "Rejected", "device": self.device_id}
        reply = DeviceReply(command.command_id, command.attempt, accepted, response, None if accepted else "Rejected")
        if self.park is not None:
            self.park.deliver(reply)

    def receive(self, command: OutgoingCommand) -> None:
        with self._lock:
            self.received.append(command)
            if self.behaviour == "hold":
                self.held.append(command)
                return
        if self.behaviour in ("accept", "reject"):
            self._reply(command, self.behaviour == "accept")


class SimulatedDevices:
    """A park of simulated devices by id (created on first use, accepting)."""

    def __init__(self) -> None:
        self._devices: dict[str, SimulatedDevice] = {}
        self._lock = threading.Lock()
        self.gateway: SimulatedGateway | None = None
        """The running platform's gateway: where the devices' replies go."""
        self.pending: list[DeviceReply] = []
        """Replies sent while no platform was up (delivered when one starts, as a broker's session would)."""

    def deliver(self, reply: DeviceReply) -> None:
        with self._lock:
            gateway = self.gateway
            if gateway is None:
                self.pending.append(reply)
                return
        gateway.deliver(reply)

    def attach(self, gateway: SimulatedGateway | None) -> list[DeviceReply]:
        """Make ``gateway`` the one replies go to; returns the replies that waited for it."""
        with self._lock:
            self.gateway = gateway
            pending, self.pending = (self.pending, []) if gateway is not None else ([], self.pending)
            return pending

    def get(self, device_id: str) -> SimulatedDevice:
        with self._lock:
            if device_id not in self._devices:
                self._devices[device_id] = SimulatedDevice(device_id, park=self)
            return self._devices[device_id]


class SimulatedGateway:
    """Hands commands to simulated devices; their replies go to the reply handler at once."""

    name = "simulated"

    def __init__(self, devices: SimulatedDevices | None = None):
        self.devices = devices or SimulatedDevices()
        self._handler: ReplyHandler | None = None
        self._running = False

    def set_reply_handler(self, handler: ReplyHandler) -> None:
        self._handler = handler

    def start(self) -> None:
        self._running = True
        for reply in self.devices.attach(self):
            self.deliver(reply)

    def stop(self) -> None:
        self._running = False
        if self.devices.gateway is self:
            self.devices.attach(None)

    def deliver(self, reply: DeviceReply) -> None:
        if self._running and self._handler is not None:
            self._handler(reply)

    def send(self, command: OutgoingCommand) -> SendResult:
        device = self.devices.get(command.address["address"])
        if not device.connected or not self._running:
            return SendResult(SendStatus.UNREACHABLE, f"simulated device {device.device_id} is disconnected")
        if device.supported_actions is not None and command.action not in device.supported_actions:
            return SendResult(SendStatus.UNSUPPORTED, f"device {device.device_id} does not support {command.action}")
        device.receive(command)
        return SendResult(SendStatus.SENT)
