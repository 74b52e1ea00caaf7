"""Energy and cost of a MyEMS dashboard (``reports/dashboard``), computed from meter readings.

A reading is (event start epoch s, kWh) with the platform's sign convention: consumption positive,
production negative. A space's **input** is the consumption of its counted meters (positive
parts), its **output** the production (the magnitude of the negative parts). The **cost** of an
input reading is its kWh times the price, at the reading's start, of the first time-of-use tariff
valid then (in the tariff's currency per kWh); a reading no tariff covers costs nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from domain.myems_billing import price_per_kwh_factor
from domain.tariffs import TariffDefinition, price_at

Reading = tuple[int, float]


def split_flows(readings_kwh: Iterable[Reading]) -> tuple[list[Reading], list[Reading]]:
    """(input: consumption kWh >= 0, output: production kWh >= 0) of signed readings."""
    consumed, produced = [], []
    for start_s, kwh in readings_kwh:
        if kwh > 0:
            consumed.append((start_s, kwh))
        elif kwh < 0:
            produced.append((start_s, -kwh))
    return consumed, produced


def cost_of(input_kwh: Iterable[Reading], tariffs: list[TariffDefinition]) -> list[Reading]:
    """(start epoch s, money) of each input reading under the first time-of-use tariff valid at it."""
    tous = [t for t in tariffs if t.tariff_type == "timeofuse"]
    costs = []
    for start_s, kwh in input_kwh:
        moment = datetime.fromtimestamp(start_s, UTC)
        for tariff in tous:
            price = price_at(tariff, moment)
            if price is not None:
                costs.append((start_s, kwh * price * price_per_kwh_factor(tariff.unit_of_price)))
                break
    return costs


def currency_of(tariffs: list[TariffDefinition]) -> str | None:
    """The currency of the first time-of-use tariff (``EUR`` of ``EUR/MWh``), ``None`` without one."""
    for tariff in tariffs:
        if tariff.tariff_type == "timeofuse":
            return tariff.unit_of_price.split("/")[0].strip()
    return None


def increment_rate(reporting: float, base: float) -> float | None:
    """MyEMS' increment rate: (reporting - base) / base, ``None`` when the base is not positive."""
    return (reporting - base) / base if base > 0 else None
