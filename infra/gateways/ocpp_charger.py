"""A simulated OCPP 1.6J charger (the charge point side, with the ``ocpp`` package).

It connects over a real WebSocket to the platform's central system
(``ws://HOST:PORT/ocpp/{id}``, Basic auth), sends BootNotification, StatusNotification,
Start/StopTransaction and MeterValues, and answers RemoteStartTransaction,
RemoteStopTransaction, SetChargingProfile and ChangeAvailability according to its
``behaviour``: ``accept``, ``reject`` or ``silent`` (never answers). It keeps every command it
received (``received``: action and payload) and the charging profiles it accepted. Used by the
tests, the demo and ``bench/``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from datetime import UTC, datetime
from typing import Any, Literal

import websockets
from ocpp.charge_point import camel_to_snake_case
from ocpp.messages import MessageType, unpack
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action

Behaviour = Literal["accept", "reject", "silent"]


def _iso(at: datetime | None = None) -> str:
    return (at or datetime.now(UTC)).isoformat().replace("+00:00", "Z")


class SimulatedCharger(ChargePoint):
    """A charger with one connector. ``received`` lists ``(action, payload)`` of commands it got."""

    behaviour: Behaviour = "accept"

    def __init__(self, charge_point_id: str, connection):
        super().__init__(charge_point_id, connection, response_timeout=10)
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.profiles: list[dict[str, Any]] = []
        self.transaction_id: int | None = None
        self.changed = asyncio.Condition()

    async def route_message(self, raw_msg):
        message = unpack(raw_msg)
        if self.behaviour == "silent" and message.message_type_id == MessageType.Call:
            # a silent charger hears, and never answers
            await self._record(message.action, camel_to_snake_case(message.payload))
            return None
        return await super().route_message(raw_msg)

    async def _record(self, action: str, payload: dict[str, Any]) -> None:
        async with self.changed:
            self.received.append((action, payload))
            self.changed.notify_all()

    def _status(self) -> str:
        return "Accepted" if self.behaviour == "accept" else "Rejected"

    @on(Action.remote_start_transaction)
    async def on_remote_start(self, id_tag: str, **kwargs):
        await self._record("RemoteStartTransaction", {"id_tag": id_tag, **kwargs})
        return call_result.RemoteStartTransaction(status=self._status())

    @on(Action.remote_stop_transaction)
    async def on_remote_stop(self, transaction_id: int):
        await self._record("RemoteStopTransaction", {"transaction_id": transaction_id})
        return call_result.RemoteStopTransaction(status=self._status())

    @on(Action.set_charging_profile)
    async def on_set_charging_profile(self, connector_id: int, cs_charging_profiles: dict):
        await self._record(
            "SetChargingProfile", {"connector_id": connector_id, "cs_charging_profiles": cs_charging_profiles}
        )
        if self.behaviour == "accept":
            self.profiles.append(cs_charging_profiles)
        return call_result.SetChargingProfile(status=self._status())

    @on(Action.change_availability)
    async def on_change_availability(self, connector_id: int, type: str):  # noqa: A002 - OCPP's field name
        await self._record("ChangeAvailability", {"connector_id": connector_id, "type": type})
        return call_result.ChangeAvailability(status=self._status())

    async def wait_received(self, count: int, timeout_s: float = 10.0) -> list[tuple[str, dict[str, Any]]]:
        """Wait until at least ``count`` commands arrived (bounded); returns them."""
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(lambda: len(self.received) >= count), timeout_s)
            return list(self.received)

    # --- what the charger tells the central system ---------------------------------------
    async def boot(self, vendor: str = "flexledger", model: str = "SimCharger 1", firmware: str = "1.0"):
        return await self.call(
            call.BootNotification(charge_point_vendor=vendor, charge_point_model=model, firmware_version=firmware)
        )

    async def status(self, status: str, connector_id: int = 1, error_code: str = "NoError", at: datetime | None = None):
        return await self.call(
            call.StatusNotification(connector_id=connector_id, error_code=error_code, status=status, timestamp=_iso(at))
        )

    async def start_transaction(
        self, meter_start_wh: int = 0, id_tag: str = "EV-1", connector_id: int = 1, at: datetime | None = None
    ) -> int:
        result = await self.call(
            call.StartTransaction(
                connector_id=connector_id, id_tag=id_tag, meter_start=meter_start_wh, timestamp=_iso(at)
            )
        )
        self.transaction_id = result.transaction_id
        return result.transaction_id

    async def stop_transaction(self, meter_stop_wh: int, reason: str = "Local", at: datetime | None = None):
        return await self.call(
            call.StopTransaction(
                meter_stop=meter_stop_wh, timestamp=_iso(at), transaction_id=self.transaction_id, reason=reason
            )
        )

    async def meter_values(
        self,
        at: datetime,
        power_w: float | None = None,
        soc_percent: float | None = None,
        energy_wh: float | None = None,
        connector_id: int = 1,
    ):
        """One MeterValues message: active power import (W), state of charge (%), energy register (Wh)."""
        sampled = []
        if power_w is not None:
            sampled.append({"value": f"{power_w:g}", "measurand": "Power.Active.Import", "unit": "W"})
        if soc_percent is not None:
            sampled.append({"value": f"{soc_percent:g}", "measurand": "SoC", "unit": "Percent", "location": "EV"})
        if energy_wh is not None:
            sampled.append({"value": f"{energy_wh:g}", "measurand": "Energy.Active.Import.Register", "unit": "Wh"})
        return await self.call(
            call.MeterValues(
                connector_id=connector_id,
                transaction_id=self.transaction_id,
                meter_value=[{"timestamp": _iso(at), "sampled_value": sampled}],
            )
        )


@contextlib.asynccontextmanager
async def connected_charger(url: str, charge_point_id: str, password: str, behaviour: Behaviour = "accept"):
    """A :class:`SimulatedCharger` connected to ``url`` (``ws://HOST:PORT/ocpp/``), its message loop running."""
    token = base64.b64encode(f"{charge_point_id}:{password}".encode()).decode()
    async with websockets.connect(
        url.rstrip("/") + "/" + charge_point_id,
        subprotocols=["ocpp1.6"],
        additional_headers={"Authorization": f"Basic {token}"},
    ) as connection:
        charger = SimulatedCharger(charge_point_id, connection)
        charger.behaviour = behaviour
        loop_task = asyncio.create_task(charger.start())
        try:
            yield charger
        finally:
            loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, websockets.ConnectionClosed):
                await loop_task
