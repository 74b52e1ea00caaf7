"""MQTT device gateway (paho-mqtt): per-device command topics, replies on an acknowledgement topic.

Topics, for a device with id ``D`` under the prefix ``P`` (default ``flexledger/devices``):

* ``P/D/commands`` — the platform publishes (QoS 1) ``{"command_id", "attempt", "action",
  "parameters"}``; power in kW, consumption positive.
* ``P/D/acks`` — the device answers ``{"command_id", "attempt", "accepted": true|false,
  "reason"?, ...}``; everything it sends is kept as the command's response.
* ``P/D/telemetry`` — measurements ``{"sensor_id", "value", "unit", "at"?}`` (or a list of
  them), handed to the telemetry sink (the platform records them as readings).
* ``P/D/status`` — ``online``/``offline`` (retained; a device sets ``offline`` as its will):
  commands to an ``offline`` device are reported unreachable and retried later.

The gateway's session is persistent (fixed client id, ``clean_session=False``), so replies a
device publishes while the platform restarts are delivered when it is back.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt

from domain.ports.device_gateway import DeviceReply, OutgoingCommand, ReplyHandler, SendResult, SendStatus

log = logging.getLogger(__name__)

TelemetrySink = Callable[[str, Any], None]
"""(device id, decoded telemetry payload)."""


def command_payload(command: OutgoingCommand) -> bytes:
    return json.dumps({
        "command_id": str(command.command_id), "attempt": command.attempt, "action": command.action,
        "parameters": command.parameters,
    }).encode()


def parse_reply(payload: bytes) -> DeviceReply | None:
    """A reply from its JSON; ``None`` when it is not one (logged, ignored)."""
    try:
        data = json.loads(payload)
        return DeviceReply(
            command_id=uuid.UUID(str(data["command_id"])), attempt=int(data.get("attempt", 0)),
            accepted=bool(data["accepted"]), response=data, reason=data.get("reason"),
        )
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring a malformed MQTT reply %r: %s", payload[:200], exc)
        return None


class MqttGateway:
    """Publishes commands and listens for replies, telemetry and device status."""

    name = "mqtt"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 1883,
        topic_prefix: str = "flexledger/devices",
        client_id: str = "flexledger-gateway",
        on_telemetry: TelemetrySink | None = None,
        connect_timeout_s: float = 5.0,
    ):
        self.host, self.port, self.prefix = host, port, topic_prefix.rstrip("/")
        self.on_telemetry, self.connect_timeout_s = on_telemetry, connect_timeout_s
        self._handler: ReplyHandler | None = None
        self._connected = threading.Event()
        self._offline: set[str] = set()
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = lambda *_args: self._connected.clear()
        self._client.on_message = self._on_message
        self._client.on_subscribe = lambda *_args: self._connected.set()  # subscribed: replies can arrive

    def set_reply_handler(self, handler: ReplyHandler) -> None:
        self._handler = handler

    def topic(self, device_id: str, kind: str) -> str:
        return f"{self.prefix}/{device_id}/{kind}"

    def start(self) -> None:
        """Connect (paho reconnects by itself afterwards); waits up to ``connect_timeout_s``."""
        self._client.connect_async(self.host, self.port, keepalive=30)
        self._client.loop_start()
        if not self._connected.wait(self.connect_timeout_s):
            log.error("MQTT broker %s:%s not reachable yet; commands wait until it is", self.host, self.port)

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
        self._connected.clear()

    @property
    def is_connected(self) -> bool:
        return self._connected.is_set()

    def _on_connect(self, client, _userdata, _flags, reason_code, _properties) -> None:
        if reason_code.is_failure:
            log.error("MQTT connection refused: %s", reason_code)
            return
        client.subscribe([(self.topic("+", kind), 1) for kind in ("acks", "telemetry", "status")])

    def _on_message(self, _client, _userdata, message: mqtt.MQTTMessage) -> None:
        parts = message.topic.split("/")
        if len(parts) < 3:
            return
        device_id, kind = parts[-2], parts[-1]
        try:
            self._dispatch_message(device_id, kind, message.payload)
        except Exception:  # noqa: BLE001 - one bad message must not stop the network loop
            log.exception("handling MQTT message on %s failed", message.topic)

    def _dispatch_message(self, device_id: str, kind: str, payload: bytes) -> None:
        if kind == "acks":
            reply = parse_reply(payload)
            if reply is not None and self._handler is not None:
                self._handler(reply)
        elif kind == "status":
            state = payload.decode(errors="replace").strip().lower()
            (self._offline.add if state == "offline" else self._offline.discard)(device_id)
        elif kind == "telemetry" and self.on_telemetry is not None:
            self.on_telemetry(device_id, json.loads(payload))

    def send(self, command: OutgoingCommand) -> SendResult:
        device_id = str(command.address.get("address"))
        if not self.is_connected:
            return SendResult(SendStatus.UNREACHABLE, f"not connected to the MQTT broker {self.host}:{self.port}")
        if device_id in self._offline:
            return SendResult(SendStatus.UNREACHABLE, f"device {device_id} reported offline")
        info = self._client.publish(self.topic(device_id, "commands"), command_payload(command), qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            return SendResult(SendStatus.UNREACHABLE, f"publishing failed: {mqtt.error_string(info.rc)}")
        return SendResult(SendStatus.SENT)
