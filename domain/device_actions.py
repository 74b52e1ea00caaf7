"""Device actions: what a command can ask a device to do, their parameters, and how a device is reached.

Power parameters are in kW, positive for consumption (charging), negative for production.
"""

from __future__ import annotations

from typing import Any


class ActionError(ValueError):
    """Invalid action parameters; ``code`` is stable, ``field`` names the input."""

    def __init__(self, code: str, message: str, field: str):
        super().__init__(message)
        self.code, self.field = code, field


ACTIONS = {
    "start_charging": "Start a charging session (OCPP RemoteStartTransaction); params: id_tag.",
    "stop_charging": "Stop the charging session (OCPP RemoteStopTransaction); params: transaction_id.",
    "set_power": "Limit/set the power in kW (OCPP SetChargingProfile with one period; MQTT setpoint).",
    "set_charging_profile": "A schedule of power limits in kW per slot (OCPP SetChargingProfile).",
    "change_availability": "Make a connector operative or inoperative; params: operative (bool).",
    "set_value": "Write a value to a point (MyEMS-style); params: value, topic, payload.",
}


def check_parameters(action: str, parameters: dict[str, Any]) -> None:
    """Raise :class:`ActionError` naming the parameter when ``parameters`` do not fit ``action``."""
    if action == "set_power":
        _require_number(parameters, "power_kw")
    elif action == "set_charging_profile":
        limits = parameters.get("limits_kw")
        if not isinstance(limits, list) or not limits or len(limits) > 1000:
            raise ActionError("INVALID_PARAMETERS", "limits_kw must be a list of 1 to 1000 numbers (kW)",
                              "parameters.limits_kw")
        for limit in limits:
            if isinstance(limit, bool) or not isinstance(limit, int | float):
                raise ActionError("INVALID_PARAMETERS", "limits_kw must hold numbers (kW)", "parameters.limits_kw")
        slot = parameters.get("slot_duration_s", 900)
        if not isinstance(slot, int) or slot <= 0:
            raise ActionError("INVALID_PARAMETERS", "slot_duration_s must be a positive integer (s)",
                              "parameters.slot_duration_s")
    elif action == "set_value":
        _require_number(parameters, "value")
    elif action == "change_availability" and not isinstance(parameters.get("operative", True), bool):
        raise ActionError("INVALID_PARAMETERS", "operative must be true or false", "parameters.operative")


def _require_number(parameters: dict[str, Any], name: str) -> None:
    value = parameters.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ActionError("INVALID_PARAMETERS", f"{name} must be a number", f"parameters.{name}")


def device_address(asset_id: int, attributes: dict[str, Any]) -> dict[str, Any] | None:
    """How to reach a device, from its asset's attributes (``None``: it has no gateway).

    * ``{"ocpp": {"charge_point_id": "CP-1", "connector_id": 1}}`` — an OCPP 1.6J charger;
    * ``{"mqtt": {"device_id": "heatpump-7"}}`` — an MQTT device (topics ``flexledger/devices/<id>/...``);
    * ``{"simulated": {"device_id": "sim-1"}}`` (or ``true``) — an in-process simulated device.
    """
    ocpp = attributes.get("ocpp")
    if isinstance(ocpp, dict) and ocpp.get("charge_point_id"):
        return {"gateway": "ocpp", "address": str(ocpp["charge_point_id"]),
                "connector_id": int(ocpp.get("connector_id", 1))}
    mqtt = attributes.get("mqtt")
    if isinstance(mqtt, dict) and mqtt.get("device_id"):
        return {"gateway": "mqtt", "address": str(mqtt["device_id"])}
    simulated = attributes.get("simulated")
    if simulated:
        address = simulated.get("device_id") if isinstance(simulated, dict) else None
        return {"gateway": "simulated", "address": str(address or f"asset-{asset_id}")}
    return None
