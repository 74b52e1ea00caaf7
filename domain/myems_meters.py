"""MyEMS meters over the platform's sensors: the catalogue MyEMS names, and energy per period.

A MyEMS meter *is* a sensor with a unit of energy or power (electricity, ``energy_category`` 1).
Its MyEMS-only fields (``uuid``, ``is_counted``, hourly limits, ``cost_center_id``,
``energy_item_id``, ``master_meter_id``, ``description``) live in the sensor's attributes under
``"myems"``; a cost center is the platform account that pays (``cost_center_id`` = account id).

Energy per period: readings in kWh (or kW, times the hours each value covers) summed into
hourly, daily, weekly (Monday), monthly or yearly periods of local time. Consumption positive,
production negative (as everywhere in the platform).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from domain.units import UnitError, conversion_factor, is_energy_unit, is_power_unit

MYEMS_NAMESPACE = uuid.UUID("6a0e4f3b-6f0c-4c38-9d0a-0d7c1f4e9b21")
ELECTRICITY = 1
ENERGY_CATEGORIES = {ELECTRICITY: {"name": "Electricity", "unit_of_measure": "kWh", "kgce": 0.1229,
                                   "kgco2e": 0.8}}
"""MyEMS' energy categories the platform serves (electricity only); kgce/kgco2e per kWh are
MyEMS' factors for electricity, configurable per deployment."""
ENERGY_ITEMS = {1: "Lighting and sockets", 2: "HVAC", 3: "Power", 4: "Special"}
"""MyEMS' electricity energy items (sub-categories), all in category 1."""
PERIOD_TYPES = ("hourly", "daily", "weekly", "monthly", "yearly")
MYEMS_FIELDS = ("uuid", "is_counted", "hourly_low_limit", "hourly_high_limit", "cost_center_id", "energy_item_id",
                "master_meter_id", "description")


def entity_uuid(kind: str, entity_id: int) -> str:
    """A stable UUID for a platform entity MyEMS names by UUID (account, catalogue entry)."""
    return str(uuid.uuid5(MYEMS_NAMESPACE, f"{kind}-{entity_id}"))


def is_meter_unit(unit: str) -> bool:
    """Electricity meters: sensors in units of energy or power."""
    try:
        return is_energy_unit(unit) or is_power_unit(unit)
    except UnitError:
        return False


def kwh_factor(unit: str, resolution_s: int) -> float:
    """Multiplier from a sensor value to the energy (kWh) of its interval."""
    if is_energy_unit(unit):
        return conversion_factor(unit, "kWh")
    return conversion_factor(unit, "kW") * resolution_s / 3600.0


def period_start(moment: datetime, period_type: str, tz: ZoneInfo) -> datetime:
    """The local start of the period holding ``moment`` (aware, in ``tz``)."""
    local = moment.astimezone(tz)
    if period_type == "hourly":
        return local.replace(minute=0, second=0, microsecond=0)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if period_type == "daily":
        return day
    if period_type == "weekly":
        return (day - timedelta(days=day.weekday())).replace(tzinfo=tz)
    if period_type == "monthly":
        return day.replace(day=1)
    return day.replace(month=1, day=1)


def period_label(start: datetime, period_type: str) -> str:
    """MyEMS' timestamp text of a period."""
    formats = {"hourly": "%Y-%m-%dT%H:%M:%S", "daily": "%Y-%m-%d", "weekly": "%Y-%m-%d", "monthly": "%Y-%m",
               "yearly": "%Y"}
    return start.strftime(formats[period_type])


def energy_by_period(values_kwh: Iterable[tuple[int, float]], period_type: str,
                     tz: ZoneInfo) -> list[tuple[str, float]]:
    """[(period label, kWh)] in time order from (event start epoch s, kWh) pairs."""
    totals: dict[datetime, float] = {}
    for start_s, kwh in values_kwh:
        key = period_start(datetime.fromtimestamp(start_s, UTC), period_type, tz)
        totals[key] = totals.get(key, 0.0) + kwh
    return [(period_label(key, period_type), round(totals[key], 6)) for key in sorted(totals)]
