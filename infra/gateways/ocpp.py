"""OCPP 1.6J central system: the device gateway for EV chargers (the ``ocpp`` package over WebSocket).

Chargers connect to ``ws://HOST:PORT/ocpp/{chargePointId}`` with subprotocol ``ocpp1.6`` and
HTTP Basic authentication (OCPP security profile 1: user = charge point id, password = its
authorization key). Commands go out as RemoteStartTransaction, RemoteStopTransaction,
SetChargingProfile (power limits in W, from the command's kW; consumption positive) and
ChangeAvailability; the charger's ``Accepted``/``Rejected`` becomes the command's reply.
Charger messages (BootNotification, StatusNotification, Start/StopTransaction, MeterValues)
go to the ``on_message`` sink as ``(charge point id, action, payload as snake_case dict)``.

The server runs its own asyncio loop in a daemon thread; :meth:`OcppCentralSystem.send` is
called from the dispatcher's thread and returns at once (the call's answer comes back later).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, is_dataclass
from datetime import UTC, datetime
from typing import Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action, AuthorizationStatus, RegistrationStatus
from websockets.asyncio.server import ServerConnection, basic_auth, serve
from websockets.exceptions import ConnectionClosed

from domain.ports.device_gateway import DeviceReply, OutgoingCommand, ReplyHandler, SendResult, SendStatus

log = logging.getLogger(__name__)

PATH_PREFIX = "/ocpp/"
SUBPROTOCOL = "ocpp1.6"
Authorize = Callable[[str, str], bool]
"""(charge point id, password) -> may it connect."""
MessageSink = Callable[[str, str, dict[str, Any]], None]
"""(charge point id, action, payload) of a message from a charger."""
HEARTBEAT_INTERVAL_S = 300


def _now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _as_dict(payload: Any) -> dict[str, Any]:
    return asdict(payload) if is_dataclass(payload) else dict(payload or {})


class CentralChargePoint(ChargePoint):
    """The central system's side of one charger's connection."""

    def __init__(self, charge_point_id: str, connection, system: OcppCentralSystem):
        super().__init__(charge_point_id, connection, response_timeout=system.response_timeout_s)
        self.system = system
        self.transactions: dict[int, int] = {}  # connector id -> running transaction id
        self.send_lock = asyncio.Lock()  # OCPP: one call at a time per charger

    def _emit(self, action: str, payload: dict[str, Any]) -> None:
        self.system.emit(self.id, action, payload)

    @on(Action.boot_notification)
    def on_boot(self, charge_point_vendor: str, charge_point_model: str, **kwargs):
        self._emit("BootNotification", {"charge_point_vendor": charge_point_vendor,
                                        "charge_point_model": charge_point_model, **kwargs})
        return call_result.BootNotification(
            current_time=_now_iso(), interval=HEARTBEAT_INTERVAL_S, status=RegistrationStatus.accepted
        )

    @on(Action.heartbeat)
    def on_heartbeat(self):
        return call_result.Heartbeat(current_time=_now_iso())

    @on(Action.authorize)
    def on_authorize(self, id_tag: str):
        return call_result.Authorize(id_tag_info={"status": AuthorizationStatus.accepted})

    @on(Action.status_notification)
    def on_status(self, connector_id: int, error_code: str, status: str, **kwargs):
        self._emit("StatusNotification", {"connector_id": connector_id, "error_code": error_code,
                                          "status": status, **kwargs})
        return call_result.StatusNotification()

    @on(Action.start_transaction)
    def on_start_transaction(self, connector_id: int, id_tag: str, meter_start: int, timestamp: str, **kwargs):
        transaction_id = self.system.next_transaction_id()
        self.transactions[connector_id] = transaction_id
        self._emit("StartTransaction", {"connector_id": connector_id, "id_tag": id_tag, "meter_start_wh": meter_start,
                                        "timestamp": timestamp, "transaction_id": transaction_id, **kwargs})
        return call_result.StartTransaction(
            transaction_id=transaction_id, id_tag_info={"status": AuthorizationStatus.accepted}
        )

    @on(Action.stop_transaction)
    def on_stop_transaction(self, meter_stop: int, timestamp: str, transaction_id: int, **kwargs):
        for connector, running in list(self.transactions.items()):
            if running == transaction_id:
                del self.transactions[connector]
        self._emit("StopTransaction", {"meter_stop_wh": meter_stop, "timestamp": timestamp,
                                       "transaction_id": transaction_id, **kwargs})
        return call_result.StopTransaction()

    @on(Action.meter_values)
    def on_meter_values(self, connector_id: int, meter_value: list, **kwargs):
        self._emit("MeterValues", {"connector_id": connector_id, "meter_value": meter_value, **kwargs})
        return call_result.MeterValues()


def charging_profile(command: OutgoingCommand, transaction_id: int | None) -> dict[str, Any]:
    """An OCPP 1.6 charging profile from ``set_power`` (``power_kw``) or ``set_charging_profile``
    (``limits_kw`` per ``slot_duration_s`` from ``start``). Limits in W; negative limits become 0
    (OCPP 1.6 limits charging only)."""
    params = command.parameters
    limits_kw = params["limits_kw"] if command.action == "set_charging_profile" else [params["power_kw"]]
    slot_s = int(params.get("slot_duration_s", 900))
    schedule: dict[str, Any] = {
        "charging_rate_unit": "W",
        "charging_schedule_period": [
            {"start_period": i * slot_s, "limit": round(max(0.0, float(kw)) * 1000, 1)}
            for i, kw in enumerate(limits_kw)
        ],
    }
    if command.action == "set_charging_profile":
        schedule["duration"] = slot_s * len(limits_kw)
    if params.get("start"):
        schedule["start_schedule"] = params["start"]
    profile: dict[str, Any] = {
        "charging_profile_id": int(params.get("profile_id", 1)),
        "stack_level": int(params.get("stack_level", 0)),
        "charging_profile_purpose": "TxProfile" if transaction_id is not None else "TxDefaultProfile",
        "charging_profile_kind": "Absolute" if params.get("start") else "Relative",
        "charging_schedule": schedule,
    }
    if transaction_id is not None:
        profile["transaction_id"] = transaction_id
    return profile


def ocpp_request(command: OutgoingCommand, charger: CentralChargePoint) -> Any | None:
    """The OCPP call carrying ``command`` to ``charger`` (``None``: the action has no OCPP form)."""
    connector_id = int(command.address.get("connector_id", 1))
    transaction_id = charger.transactions.get(connector_id)
    params = command.parameters
    if command.action == "start_charging":
        return call.RemoteStartTransaction(id_tag=str(params.get("id_tag", "flexledger")), connector_id=connector_id)
    if command.action == "stop_charging":
        running = params.get("transaction_id", transaction_id)
        return None if running is None else call.RemoteStopTransaction(transaction_id=int(running))
    if command.action in ("set_power", "set_charging_profile"):
        return call.SetChargingProfile(
            connector_id=connector_id, cs_charging_profiles=charging_profile(command, transaction_id)
        )
    if command.action == "change_availability":
        kind = "Operative" if params.get("operative", True) else "Inoperative"
        return call.ChangeAvailability(connector_id=connector_id, type=kind)
    return None


class OcppCentralSystem:
    """The OCPP gateway: a WebSocket server in its own thread and event loop."""

    name = "ocpp"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 9000,
        authorize: Authorize | None = None,
        on_message: MessageSink | None = None,
        response_timeout_s: float = 30.0,
    ):
        self.host, self.port, self.response_timeout_s = host, port, response_timeout_s
        self.authorize, self.on_message = authorize, on_message
        self._handler: ReplyHandler | None = None
        self._chargers: dict[str, CentralChargePoint] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped: asyncio.Event | None = None
        self._transaction_ids = itertools.count(int(time.time()) % 1_000_000_000)

    # --- lifecycle ------------------------------------------------------------------------
    def set_reply_handler(self, handler: ReplyHandler) -> None:
        self._handler = handler

    def start(self) -> None:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="flexledger-ocpp", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError(f"the OCPP central system did not start on {self.host}:{self.port}")

    def _run(self, ready: threading.Event) -> None:
        self._loop = loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._serve(ready))
        finally:
            pending = asyncio.all_tasks(loop)  # calls still waiting for a charger's answer
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.wait(pending))
            loop.close()

    async def _serve(self, ready: threading.Event) -> None:
        self._stopped = asyncio.Event()
        auth = basic_auth(realm="flexledger OCPP", check_credentials=self._check_credentials)
        async with serve(
            self._on_connect, self.host, self.port, subprotocols=[SUBPROTOCOL], process_request=auth
        ) as server:
            self.port = server.sockets[0].getsockname()[1]
            ready.set()
            await self._stopped.wait()

    def stop(self) -> None:
        if self._loop is not None and self._stopped is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._stopped.set)
        if self._thread is not None:
            self._thread.join(10)
        self._chargers.clear()

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}{PATH_PREFIX}"

    def connected(self) -> list[str]:
        return sorted(self._chargers)

    # --- chargers -------------------------------------------------------------------------
    def _check_credentials(self, username: str, password: str) -> bool:
        return self.authorize is not None and self.authorize(username, password)

    async def _on_connect(self, connection: ServerConnection) -> None:
        path = connection.request.path if connection.request else ""
        charge_point_id = path.removeprefix(PATH_PREFIX).strip("/")
        if not path.startswith(PATH_PREFIX) or charge_point_id != getattr(connection, "username", None):
            await connection.close(1008, "the path must be /ocpp/<your charge point id>")
            return
        charger = CentralChargePoint(charge_point_id, connection, self)
        previous = self._chargers.get(charge_point_id)
        self._chargers[charge_point_id] = charger
        if previous is not None:
            charger.transactions = previous.transactions
        try:
            await charger.start()
        except ConnectionClosed:
            pass
        finally:
            if self._chargers.get(charge_point_id) is charger:
                del self._chargers[charge_point_id]

    def next_transaction_id(self) -> int:
        return next(self._transaction_ids)

    def emit(self, charge_point_id: str, action: str, payload: dict[str, Any]) -> None:
        if self.on_message is None:
            return
        try:
            self.on_message(charge_point_id, action, payload)
        except Exception:  # noqa: BLE001 - a sink fault must not break the charger's connection
            log.exception("recording %s from charger %s failed", action, charge_point_id)

    # --- commands -------------------------------------------------------------------------
    def send(self, command: OutgoingCommand) -> SendResult:
        charger = self._chargers.get(str(command.address.get("address")))
        loop = self._loop
        if charger is None or loop is None or not loop.is_running():
            return SendResult(SendStatus.UNREACHABLE, f"charger {command.address.get('address')} is not connected")
        request = ocpp_request(command, charger)
        if request is None:
            return SendResult(SendStatus.UNSUPPORTED, f"{command.action} has no OCPP 1.6 form here "
                                                      "(stop_charging needs a running transaction)")
        asyncio.run_coroutine_threadsafe(self._call(charger, command, request), loop)
        return SendResult(SendStatus.SENT)

    def _remaining_s(self, command: OutgoingCommand) -> float:
        """Seconds until the attempt's reply is due (the call's own timeout when it has no deadline)."""
        if command.reply_due_at is None:
            return self.response_timeout_s
        return min(self.response_timeout_s, (command.reply_due_at - datetime.now(UTC)).total_seconds())

    async def _call(self, charger: CentralChargePoint, command: OutgoingCommand, request: Any) -> None:
        unique_id = str(uuid.uuid5(command.command_id, str(command.attempt)))  # OCPP ids: at most 36 characters
        async with charger.send_lock:
            remaining_s = self._remaining_s(command)
            if remaining_s <= 0:
                log.info("command %s attempt %s not sent to %s: its reply was due already", command.command_id,
                         command.attempt, charger.id)
                return
            try:
                response = await asyncio.wait_for(charger.call(request, unique_id=unique_id), remaining_s)
            except (TimeoutError, ConnectionClosed) as exc:
                log.info("no answer from charger %s to %s: %s", charger.id, type(request).__name__, exc)
                return  # the command's ack timeout decides: retry or expire
        payload = _as_dict(response)
        status = payload.get("status", "CallError")
        status = str(getattr(status, "value", status))
        accepted = status == "Accepted"
        reply = DeviceReply(
            command.command_id, command.attempt, accepted, {"action": type(request).__name__, **payload},
            None if accepted else f"charger answered {status}",
        )
        if self._handler is not None:
            await asyncio.to_thread(self._handler, reply)
