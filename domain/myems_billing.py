"""Charge and discharge billing of a battery under a time-of-use tariff (MyEMS ``microgridsbilling``).

Each power value (kW, consumption positive: charging; production negative: discharging) covers
``resolution_s`` seconds: energy_kwh = power_kw * hours. Its billing is energy_kwh times the
tariff's price at the interval's start, in the tariff's currency per kWh; intervals outside the
tariff's validity bill nothing. Results are summed per period and rounded to the cent.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from domain.myems_meters import period_label, period_start
from domain.tariffs import TariffDefinition, price_at
from domain.units import UnitError, conversion_factor


def price_per_kwh_factor(unit_of_price: str) -> float:
    """Multiplier from the tariff's price unit to currency per kWh (1 when the unit is not parseable)."""
    try:
        currency = unit_of_price.split("/")[0].strip()
        return conversion_factor(unit_of_price, f"{currency}/kWh")
    except (UnitError, IndexError):
        return 1.0


def billing_by_period(power_kw: Iterable[tuple[int, float]], resolution_s: int, tariff: TariffDefinition | None,
                      period_type: str, tz: ZoneInfo) -> dict[str, dict[str, float]]:
    """{"charge": {label: money}, "discharge": {label: money}} from (start epoch s, kW) pairs; without a
    tariff, the energy (kWh, to the Wh) instead of money (MyEMS ``microgridsenergy``)."""
    factor = price_per_kwh_factor(tariff.unit_of_price) if tariff else 1.0
    digits = 2 if tariff else 3
    charge: dict[str, float] = {}
    discharge: dict[str, float] = {}
    for start_s, kw in power_kw:
        moment = datetime.fromtimestamp(start_s, UTC)
        price = price_at(tariff, moment) if tariff else 1.0
        if price is None or kw == 0:
            continue
        label = period_label(period_start(moment, period_type, tz), period_type)
        money = abs(kw) * resolution_s / 3600.0 * price * factor
        target = charge if kw > 0 else discharge
        target[label] = target.get(label, 0.0) + money
    return {"charge": {k: round(v, digits) for k, v in charge.items()},
            "discharge": {k: round(v, digits) for k, v in discharge.items()}}
