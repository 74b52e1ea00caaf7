"""What devices send the platform, as events: charger messages (OCPP) and telemetry (MQTT).

* :class:`ChargerSink` — BootNotification, StatusNotification, Start/StopTransaction become
  :mod:`domain.chargers` events on ``charger-<asset id>``; MeterValues become readings on the
  sensors the asset maps measurands to (``attributes.ocpp.sensors``, e.g.
  ``{"Power.Active.Import": 12, "SoC": 13}``), except the cumulative energy register
  (``Energy.Active.Import.Register``), which becomes ``EnergyRegisterRead`` events. Each
  message then feeds the charge sessions (:mod:`commands.charger_sessions`: session events and
  the energy per slot from the register's differences).
* :class:`TelemetrySink` — ``{"sensor_id", "value", "unit", "at"?}`` (or a list) from an MQTT
  device become readings, only on sensors of the device's own asset.

A reading is the belief of one event of the sensor's resolution, starting at the measurement
time floored to that resolution (instantaneous sensors: one second). Source: ``ocpp:<id>`` or
``mqtt:<id>``. Power consumption is positive.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from commands.charger_sessions import REGISTER, ChargerSessionFeed
from commands.context import CommandContext, CommandError
from commands.readings import RecordSensorData, record_sensor_data
from commands.registry import load_sensor
from domain import chargers as ch
from domain.chargers import charger_password_ok
from domain.events import EventMetadata
from domain.ports.checkpoints import CheckpointStore
from domain.ports.event_store import ANY

log = logging.getLogger(__name__)
FindAsset = Callable[[str], dict | None]

__all__ = ["ChargerSink", "TelemetrySink", "charger_password_ok", "record_point_reading"]


def _parse_time(value: Any) -> datetime:
    at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def record_point_reading(
    ctx: CommandContext, sensor_id: int, at: datetime, value: float, unit: str, source: str, asset_id: int
) -> None:
    """One measured value on a sensor of ``asset_id`` (refused on another asset's sensor)."""
    sensor = load_sensor(ctx, sensor_id)
    if sensor is None or sensor.asset_id != asset_id:
        message = f"sensor {sensor_id} is not a sensor of asset {asset_id}"
        raise CommandError("UNRECOGNIZED_SENSOR", message, "sensor_id")
    resolution_s = sensor.event_resolution_s or 1
    epoch_s = int(at.timestamp())
    start = datetime.fromtimestamp(epoch_s - epoch_s % resolution_s, UTC)
    record_sensor_data(
        ctx,
        RecordSensorData(
            sensor_id=sensor_id,
            start=start,
            duration=timedelta(seconds=resolution_s),
            values=[value],
            unit=unit,
            source=source,
            source_type="device",
        ),
        sensor,
    )


class ChargerSink:
    """Records what OCPP chargers say (called by the central system with snake_case payloads)."""

    def __init__(self, ctx: CommandContext, find_asset: FindAsset, checkpoints: CheckpointStore | None = None):
        """``checkpoints``: where the session feed keeps what it recorded (crash safety, see
        :mod:`commands.charger_sessions`)."""
        self.ctx = CommandContext(ctx.store, ctx.clock, EventMetadata(source="ocpp"))
        self.find_asset = find_asset
        self.sessions = ChargerSessionFeed(checkpoints)

    def __call__(self, charge_point_id: str, action: str, payload: dict[str, Any]) -> None:
        asset = self.find_asset(charge_point_id)
        if asset is None:
            log.warning("charger %s is no asset's; %s ignored", charge_point_id, action)
            return
        # each charger message starts a chain (reading -> schedule -> command) that shares its correlation id
        meta = EventMetadata(source="ocpp", actor=f"charger:{charge_point_id}", correlation_id=str(uuid.uuid4()))
        ctx = CommandContext(self.ctx.store, self.ctx.clock, meta)
        if action == "MeterValues":
            events = self._meter_values(ctx, asset, charge_point_id, payload)
        else:
            event = self._event(asset["id"], charge_point_id, action, payload, ctx.clock())
            events = [] if event is None else [event]
        if events:
            appended = ctx.append(ch.charger_stream(asset["id"]), events, ANY)
            first = appended.stream_revision - len(events) + 1
            self.sessions.feed(ctx, asset, f"ocpp:{charge_point_id}", first)

    @staticmethod
    def _event(asset_id: int, cp: str, action: str, p: dict[str, Any], now: datetime):
        if action == "BootNotification":
            return ch.ChargerBooted(
                asset_id=asset_id,
                charge_point_id=cp,
                vendor=p["charge_point_vendor"],
                model=p["charge_point_model"],
                firmware_version=p.get("firmware_version"),
                serial_number=p.get("charge_point_serial_number"),
                at=now,
            )
        if action == "StatusNotification":
            at = _parse_time(p["timestamp"]) if p.get("timestamp") else now
            return ch.ChargerStatusChanged(
                asset_id=asset_id,
                connector_id=p["connector_id"],
                status=p["status"],
                error_code=p.get("error_code", "NoError"),
                at=at,
            )
        if action == "StartTransaction":
            return ch.ChargingSessionStarted(
                asset_id=asset_id,
                transaction_id=p["transaction_id"],
                connector_id=p["connector_id"],
                id_tag=p["id_tag"],
                meter_start_wh=p["meter_start_wh"],
                at=_parse_time(p["timestamp"]),
            )
        if action == "StopTransaction":
            return ch.ChargingSessionStopped(
                asset_id=asset_id,
                transaction_id=p["transaction_id"],
                meter_stop_wh=p["meter_stop_wh"],
                reason=p.get("reason"),
                at=_parse_time(p["timestamp"]),
            )
        return None

    @staticmethod
    def _meter_values(ctx: CommandContext, asset: dict, cp: str, payload: dict[str, Any]) -> list:
        """Readings of the mapped measurands; the energy register's values as events (returned)."""
        sensors = ((asset.get("attributes") or {}).get("ocpp") or {}).get("sensors") or {}
        registers = []
        for meter_value in payload.get("meter_value", []):
            at = _parse_time(meter_value["timestamp"])
            for sampled in meter_value.get("sampled_value", []):
                measurand = sampled.get("measurand", REGISTER)
                unit = ch.OCPP_UNITS.get(sampled.get("unit", "Wh"))
                if measurand == REGISTER and unit in ("Wh", "kWh"):
                    register_wh = float(sampled["value"]) * (1000 if unit == "kWh" else 1)
                    registers.append(
                        ch.EnergyRegisterRead(
                            asset_id=asset["id"],
                            connector_id=payload.get("connector_id", 1),
                            register_wh=register_wh,
                            transaction_id=payload.get("transaction_id"),
                            at=at,
                        )
                    )
                    continue
                sensor_id = sensors.get(measurand)
                if sensor_id is None or unit is None:
                    continue
                record_point_reading(ctx, int(sensor_id), at, float(sampled["value"]), unit, f"ocpp:{cp}", asset["id"])
        return registers


class TelemetrySink:
    """Records what MQTT devices measure as readings on their own asset's sensors."""

    def __init__(self, ctx: CommandContext, find_asset: FindAsset):
        self.store, self.clock, self.find_asset = ctx.store, ctx.clock, find_asset

    def __call__(self, device_id: str, payload: Any) -> None:
        asset = self.find_asset(device_id)
        if asset is None:
            log.warning("MQTT device %s is no asset's; telemetry ignored", device_id)
            return
        ctx = CommandContext(self.store, self.clock, EventMetadata(source="mqtt", actor=f"device:{device_id}"))
        for item in payload if isinstance(payload, list) else [payload]:
            try:
                at = _parse_time(item["at"]) if item.get("at") else ctx.clock()
                record_point_reading(
                    ctx,
                    int(item["sensor_id"]),
                    at,
                    float(item["value"]),
                    str(item["unit"]),
                    f"mqtt:{device_id}",
                    asset["id"],
                )
            except (CommandError, KeyError, TypeError, ValueError) as exc:
                log.warning("MQTT telemetry from %s refused: %s", device_id, exc)
