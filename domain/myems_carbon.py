"""Carbon of a battery's charge and discharge (MyEMS' ``...carbon`` figures, issue 14). No I/O.

Each power value (kW, consumption positive: charging; production negative: discharging) covers
``resolution_s`` seconds from its start: energy_kwh = |power_kw| * hours. Its carbon (kg CO2e) is
that energy times the emission factor (kg CO2e per kWh), or, with a carbon-intensity sensor, the
energy of each part of the interval times the intensity reading covering that part (readings in
any mass-per-energy unit, converted to kg/kWh by :mod:`domain.units`); parts of the interval no
reading covers take the emission factor.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from domain.myems_meters import period_label, period_start
from domain.units import conversion_factor

KG_PER_KWH = "kg/kWh"


def kg_per_kwh_factor(unit: str) -> float:
    """Multiplier from a carbon-intensity unit (``g/kWh``, ``kg/MWh``, ...) to kg per kWh; raises
    :class:`domain.units.UnitError` for a unit that is not a mass per energy."""
    return conversion_factor(unit, KG_PER_KWH)


@dataclass(frozen=True)
class CarbonIntensity:
    """A carbon-intensity sensor's readings: ``{start epoch s: kg CO2e per kWh}``, each covering
    ``resolution_s`` seconds (an instantaneous sensor, resolution 0, holds until the next reading)."""

    values_kg_per_kwh: Mapping[int, float]
    resolution_s: int
    _starts: list[int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_starts", sorted(self.values_kg_per_kwh))

    def kg(self, start_s: int, duration_s: int, kw: float, factor_kg_per_kwh: float) -> float:
        """kg CO2e of ``|kw|`` over ``[start_s, start_s + duration_s)``."""
        end_s, done_s, kg = start_s + duration_s, start_s, 0.0
        i = max(bisect_right(self._starts, start_s) - 1, 0)
        while done_s < end_s:
            reading = self._starts[i] if i < len(self._starts) else None
            if reading is None or reading > done_s:  # no reading yet: the factor up to the next one
                upto = end_s if reading is None else min(reading, end_s)
                kg += abs(kw) * (upto - done_s) / 3600.0 * factor_kg_per_kwh
                done_s = upto
                continue
            covers_to = self._covers_to(i)
            if covers_to > done_s:
                upto = min(covers_to, end_s)
                kg += abs(kw) * (upto - done_s) / 3600.0 * self.values_kg_per_kwh[reading]
                done_s = upto
            i += 1
        return kg

    def at(self, moment_s: int, factor_kg_per_kwh: float) -> float:
        """kg CO2e per kWh of the reading covering the instant ``moment_s``, else the factor."""
        i = bisect_right(self._starts, moment_s) - 1
        if i >= 0 and moment_s < self._covers_to(i):
            return self.values_kg_per_kwh[self._starts[i]]
        return factor_kg_per_kwh

    def _covers_to(self, i: int) -> int:
        start = self._starts[i]
        if self.resolution_s > 0:
            return start + self.resolution_s
        return self._starts[i + 1] if i + 1 < len(self._starts) else 2**62


def carbon_kg(
    power_kw: Iterable[tuple[int, float, int]], factor_kg_per_kwh: float, intensity: CarbonIntensity | None = None
) -> tuple[float, float]:
    """(charge kg, discharge kg) of (start epoch s, kW, resolution s) values."""
    totals = [0.0, 0.0]
    for start_s, kw, resolution_s in power_kw:
        if kw == 0:
            continue
        kg = (
            intensity.kg(start_s, resolution_s, kw, factor_kg_per_kwh)
            if intensity is not None
            else abs(kw) * resolution_s / 3600.0 * factor_kg_per_kwh
        )
        totals[0 if kw > 0 else 1] += kg
    return totals[0], totals[1]


def energy_kg(
    values_kwh: Iterable[tuple[int, float]],
    resolution_s: int,
    factor_kg_per_kwh: float,
    intensity: CarbonIntensity | None = None,
) -> float:
    """kg CO2e of energy values (start epoch s, kWh; a meter's readings): each value spread over
    ``[start, start + resolution_s)`` times the intensity covering each part, else the factor; with
    ``resolution_s`` 0 (unknown), the intensity at its start. Signed as the energy."""
    total = 0.0
    for start_s, kwh in values_kwh:
        if intensity is None:
            total += kwh * factor_kg_per_kwh
        elif resolution_s > 0:
            kg = intensity.kg(start_s, resolution_s, abs(kwh) * 3600.0 / resolution_s, factor_kg_per_kwh)
            total += kg if kwh >= 0 else -kg
        else:
            total += kwh * intensity.at(start_s, factor_kg_per_kwh)
    return total


def carbon_by_period(
    power_kw: Iterable[tuple[int, float, int]],
    factor_kg_per_kwh: float,
    intensity: CarbonIntensity | None,
    period_type: str,
    tz: ZoneInfo,
) -> dict[str, dict[str, float]]:
    """{"charge": {label: kg}, "discharge": {label: kg}} per period of the values' starts (to the gram)."""
    out: dict[str, dict[str, float]] = {"charge": {}, "discharge": {}}
    for start_s, kw, resolution_s in power_kw:
        if kw == 0:
            continue
        label = period_label(period_start(datetime.fromtimestamp(start_s, UTC), period_type, tz), period_type)
        charge, discharge = carbon_kg([(start_s, kw, resolution_s)], factor_kg_per_kwh, intensity)
        target = out["charge" if kw > 0 else "discharge"]
        target[label] = target.get(label, 0.0) + charge + discharge
    return {kind: {k: round(v, 3) for k, v in values.items()} for kind, values in out.items()}
