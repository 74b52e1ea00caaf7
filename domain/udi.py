"""UDI events: a device's state of charge (optionally with targets), as FlexMeasures' v2.0 API has them.

A UDI event is addressed with a USEF ``ea1`` entity address
``ea1.<yyyy-mm>.<reversed domain>:<owner>:<asset>:<event-id>:<type>`` (FlexMeasures docs 15.6):
``owner`` is the account of the device, ``asset`` the device (a battery or EVSE asset with a power
sensor), ``event-id`` an integer that must increase per device, ``type`` ``soc`` or
``soc-with-targets``.

The event lives in stream ``udi-<asset id>``: one stream per device, so "event ids increase per
device" is checked against the stream's last event and enforced with the expected revision.
States of charge are stored in kWh (the client's value and unit are kept beside them, for audit).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator

from domain.events import DomainEvent, register_event
from domain.units import UnitError, conversion_factor

UDI_EVENT_TYPES = ("soc", "soc-with-targets")
UdiEventType = Literal["soc", "soc-with-targets"]
SOC_UNITS = ("kWh", "MWh", "%")
DEVICE_ASSET_TYPES = ("battery", "one-way_evse", "two-way_evse")

_ADDRESS_RE = re.compile(
    r"^ea1\.(?P<date>\d{4}-\d{2})\.(?P<domain>[A-Za-z0-9][A-Za-z0-9.\-]*)"
    r":(?:fm0\.)?(?P<owner>\d{1,19}):(?P<asset>\d{1,19}):(?P<event_id>\d{1,19}):(?P<type>[A-Za-z0-9_\-]+)$"
)
_EXAMPLE = "ea1.2018-06.io.flexmeasures.company:7:10:203:soc"


class UdiError(ValueError):
    """A UDI event was refused: ``code`` is FlexMeasures' status code, ``field`` names the input."""

    def __init__(self, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.code, self.field = code, field


@dataclass(frozen=True, slots=True)
class EventAddress:
    """A parsed ``ea1`` UDI event address."""

    date: str
    domain: str
    owner_id: int
    asset_id: int
    event_id: int
    event_type: str

    def __str__(self) -> str:
        return f"ea1.{self.date}.{self.domain}:{self.owner_id}:{self.asset_id}:{self.event_id}:{self.event_type}"


MAX_ID = 2**63 - 1
"""Largest id an address may name (SQL BIGINT)."""


def parse_event_address(text: object, field: str = "event") -> EventAddress:
    """Parse an ``ea1`` UDI event address.

    Raises :class:`UdiError` ``INVALID_DOMAIN`` when it is not an ``ea1`` event address, and
    ``UNRECOGNIZED_UDI_EVENT`` when its type is not ``soc`` or ``soc-with-targets``.
    """
    if not isinstance(text, str) or not text.strip():
        raise UdiError("INVALID_DOMAIN", f"No event identifier sent; expected an address such as {_EXAMPLE}.", field)
    match = _ADDRESS_RE.match(text.strip())
    if match is None:
        raise UdiError(
            "INVALID_DOMAIN",
            f"{text!r} is not a UDI event address of the form ea1.<yyyy-mm>.<domain>:<owner>:<asset>:<event-id>:<type>"
            f", e.g. {_EXAMPLE}.",
            field,
        )
    address = EventAddress(
        date=match["date"],
        domain=match["domain"],
        owner_id=int(match["owner"]),
        asset_id=int(match["asset"]),
        event_id=int(match["event_id"]),
        event_type=match["type"],
    )
    if not all(0 <= i <= MAX_ID for i in (address.owner_id, address.asset_id, address.event_id)):
        raise UdiError("INVALID_DOMAIN", f"The ids in {text!r} should be integers from 0 to {MAX_ID}.", field)
    if address.event_type not in UDI_EVENT_TYPES:
        raise UdiError(
            "UNRECOGNIZED_UDI_EVENT", f"The requested UDI event type {address.event_type} is not known.", field
        )
    return address


def udi_stream(asset_id: int) -> str:
    """The stream of one device's UDI events."""
    return f"udi-{asset_id}"


def soc_in_kwh(value: float, unit: str, capacity_kwh: float | None, field: str = "unit") -> float:
    """A state of charge in kWh from ``value`` in kWh, MWh or % (of ``capacity_kwh``).

    Raises :class:`UdiError` ``INVALID_UNIT`` for other units, or for % without a known capacity.
    """
    if unit == "%":
        if capacity_kwh is None or capacity_kwh <= 0:
            raise UdiError(
                "INVALID_UNIT",
                "A state of charge in % needs the device's capacity (soc-max in its flex-model); "
                "send kWh or MWh instead.",
                field,
            )
        return value / 100.0 * capacity_kwh
    if unit not in SOC_UNITS:
        raise UdiError(
            "INVALID_UNIT", f"Data for state of charge should be given in kWh, MWh or %, not {unit!r}.", field
        )
    try:
        return value * conversion_factor(unit, "kWh")
    except UnitError as exc:  # pragma: no cover - kWh and MWh always convert
        raise UdiError("INVALID_UNIT", str(exc), field) from exc


class SocTarget(BaseModel):
    """A target state of charge (kWh) to reach at ``datetime``."""

    model_config = ConfigDict(frozen=True)

    value_kwh: float
    datetime: dt.datetime

    @field_validator("datetime")
    @classmethod
    def _aware(cls, value: dt.datetime) -> dt.datetime:
        if value.tzinfo is None:
            raise ValueError("datetime must be timezone-aware")
        return value


@register_event
class UdiEventPosted(DomainEvent):
    """A device reported its state of charge ``soc_kwh`` at ``datetime`` (UDI event ``udi_event_id``).

    ``sensor_id`` is the device's power sensor (the schedule is written there, consumption
    positive). ``targets`` (``soc-with-targets``) are states of charge to reach. Optional
    ``soc_min_kwh``/``soc_max_kwh``/``roundtrip_efficiency`` override the device's flex-model;
    ``prior`` is the belief time for the inputs (prices) of the schedule; ``horizon_s`` the
    planning horizon in seconds from the schedule start.
    """

    address: str
    owner_id: int
    asset_id: int
    sensor_id: int
    udi_event_id: int
    udi_type: UdiEventType
    datetime: dt.datetime
    soc_kwh: float
    value: float
    unit: str
    targets: list[SocTarget] = []
    soc_min_kwh: float | None = None
    soc_max_kwh: float | None = None
    roundtrip_efficiency: float | None = None
    prior: dt.datetime | None = None
    horizon_s: int

    @field_validator("datetime", "prior")
    @classmethod
    def _aware(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("datetime must be timezone-aware")
        return value


def decide_udi_event(last: UdiEventPosted | None, event: UdiEventPosted) -> UdiEventPosted:
    """Accept ``event`` after the device's ``last`` UDI event, or raise :class:`UdiError`.

    Event ids must increase per device (``OUTDATED_UDI_EVENT``); the state-of-charge time must
    not precede the last one (``INVALID_DATETIME``); targets must lie after the event's time.
    """
    if last is not None and event.udi_event_id <= last.udi_event_id:
        raise UdiError(
            "OUTDATED_UDI_EVENT",
            f"The requested UDI event (id = {event.udi_event_id}) is equal or before the latest existing one "
            f"(id = {last.udi_event_id}).",
            "event",
        )
    if last is not None and event.datetime < last.datetime:
        raise UdiError(
            "INVALID_DATETIME",
            f"The date of the requested UDI event ({event.datetime.isoformat()}) is earlier than the latest known "
            f"date ({last.datetime.isoformat()}).",
            "datetime",
        )
    for i, target in enumerate(event.targets):
        if target.datetime <= event.datetime:
            raise UdiError(
                "INVALID_DATETIME",
                f"Target datetime {target.datetime.isoformat()} is not after the event's datetime.",
                f"targets[{i}].datetime",
            )
    return event
