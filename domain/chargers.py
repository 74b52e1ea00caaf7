"""What chargers tell the platform (OCPP 1.6J): boots, connector states, charging sessions.

Events of a charger live in stream ``charger-<asset id>``. Energy is in Wh as the charger's
meter reports it (a register: it only grows); power readings from MeterValues become beliefs
on the EVSE's sensors (consumption positive). Times are timezone-aware.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Any

from domain.events import DomainEvent, register_event

CONNECTOR_STATES = (
    "Available",
    "Preparing",
    "Charging",
    "SuspendedEVSE",
    "SuspendedEV",
    "Finishing",
    "Reserved",
    "Unavailable",
    "Faulted",
)
OCPP_UNITS = {"W": "W", "kW": "kW", "Wh": "Wh", "kWh": "kWh", "Percent": "%", "A": "A", "V": "V"}
"""OCPP 1.6 units of measure -> the platform's unit names."""


def charger_stream(asset_id: int) -> str:
    return f"charger-{asset_id}"


def password_sha256(password: str) -> str:
    """What an asset stores as ``attributes.ocpp.password_sha256`` (never the password itself)."""
    return hashlib.sha256(password.encode()).hexdigest()


def charger_password_ok(attributes: dict[str, Any], password: str) -> bool:
    """Whether ``password`` is the charger's authorization key (OCPP security profile 1)."""
    stored = (attributes.get("ocpp") or {}).get("password_sha256")
    return isinstance(stored, str) and hmac.compare_digest(stored, password_sha256(password))


@register_event
class ChargerBooted(DomainEvent):
    """BootNotification: the EVSE's make, model and firmware."""

    asset_id: int
    charge_point_id: str
    vendor: str
    model: str
    firmware_version: str | None = None
    serial_number: str | None = None
    at: datetime


@register_event
class ChargerStatusChanged(DomainEvent):
    """StatusNotification: a connector's state (Available, Preparing, Charging, ..., Faulted)."""

    asset_id: int
    connector_id: int
    status: str
    error_code: str = "NoError"
    at: datetime


@register_event
class ChargingSessionStarted(DomainEvent):
    """StartTransaction: a session began with the meter at ``meter_start_wh``."""

    asset_id: int
    transaction_id: int
    connector_id: int
    id_tag: str
    meter_start_wh: float
    at: datetime


@register_event
class ChargingSessionStopped(DomainEvent):
    """StopTransaction: the session ended with the meter at ``meter_stop_wh``."""

    asset_id: int
    transaction_id: int
    meter_stop_wh: float
    reason: str | None = None
    at: datetime


@register_event
class EnergyRegisterRead(DomainEvent):
    """MeterValues' ``Energy.Active.Import.Register`` of a connector: the cumulative energy (Wh)
    the charger's meter showed at ``at`` (it only grows, unless the meter was reset)."""

    asset_id: int
    connector_id: int
    register_wh: float
    transaction_id: int | None = None
    at: datetime
