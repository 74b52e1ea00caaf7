"""A simulated MQTT device (paho-mqtt): it subscribes to its command topic and answers on its
acknowledgement topic according to ``behaviour`` (``accept``, ``reject``, ``silent``, or ``hold``:
keep commands until :meth:`MqttDevice.release`). It announces ``online`` on its retained status
topic (``offline`` as its will and when it disconnects). Used by the tests, the demo and ``bench/``.
"""

from __future__ import annotations

import json
import threading
from typing import Any, Literal

import paho.mqtt.client as mqtt

Behaviour = Literal["accept", "reject", "silent", "hold"]


class MqttDevice:
    def __init__(self, device_id: str, host: str = "127.0.0.1", port: int = 1883,
                 topic_prefix: str = "flexledger/devices", behaviour: Behaviour = "accept"):
        self.device_id, self.behaviour = device_id, behaviour
        self.base = f"{topic_prefix.rstrip('/')}/{device_id}"
        self.received: list[dict[str, Any]] = []
        self.held: list[dict[str, Any]] = []
        self.changed = threading.Condition()
        self._subscribed = threading.Event()
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"device-{device_id}")
        self._client.will_set(f"{self.base}/status", "offline", qos=1, retain=True)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = lambda *_args: self._subscribed.set()
        self._client.on_message = self._on_message
        self.host, self.port = host, port

    def connect(self, timeout_s: float = 5.0) -> MqttDevice:
        self._client.connect(self.host, self.port, keepalive=30)
        self._client.loop_start()
        if not self._subscribed.wait(timeout_s):
            raise RuntimeError(f"MQTT device {self.device_id} could not subscribe at {self.host}:{self.port}")
        return self

    def disconnect(self) -> None:
        if not self._subscribed.is_set():
            return
        self._client.publish(f"{self.base}/status", "offline", qos=1, retain=True).wait_for_publish(5)
        self._client.disconnect()
        self._client.loop_stop()
        self._subscribed.clear()

    def _on_connect(self, client, _userdata, _flags, _reason_code, _properties) -> None:
        client.subscribe(f"{self.base}/commands", qos=1)
        client.publish(f"{self.base}/status", "online", qos=1, retain=True)

    def _on_message(self, _client, _userdata, message: mqtt.MQTTMessage) -> None:
        command = json.loads(message.payload)
        with self.changed:
            self.received.append(command)
            if self.behaviour == "hold":
                self.held.append(command)
            self.changed.notify_all()
        if self.behaviour in ("accept", "reject"):
            self.answer(command, self.behaviour == "accept", wait=False)  # the network thread must not wait on itself

    def answer(self, command: dict[str, Any], accepted: bool, reason: str | None = None, wait: bool = True) -> None:
        reply = {"command_id": command["command_id"], "attempt": command["attempt"], "accepted": accepted,
                 "device": self.device_id}
        if not accepted:
            reply["reason"] = reason or "setpoint out of range"
        info = self._client.publish(f"{self.base}/acks", json.dumps(reply), qos=1)
        if wait:
            info.wait_for_publish(5)

    def release(self, accepted: bool = True) -> int:
        with self.changed:
            held, self.held = self.held, []
        for command in held:
            self.answer(command, accepted)
        return len(held)

    def publish_telemetry(self, payload: Any) -> None:
        self._client.publish(f"{self.base}/telemetry", json.dumps(payload), qos=1).wait_for_publish(5)

    def wait_received(self, count: int, timeout_s: float = 10.0) -> list[dict[str, Any]]:
        with self.changed:
            if not self.changed.wait_for(lambda: len(self.received) >= count, timeout_s):
                raise AssertionError(f"device {self.device_id} received {len(self.received)} of {count} commands")
            return list(self.received)
