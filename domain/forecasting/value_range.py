"""Physical value ranges of forecasts, from the sensor and asset type (pure).

Sign convention (USEF): consumption positive, production negative. A consumption-only sensor
(EV charging, a load, a heat pump: power or energy) is never forecast below 0; a
production-only one (PV, wind) never above 0. Anything else (prices, temperatures, a net
connection meter, a battery) stays unbounded unless the ``forecasting`` attribute sets a range.
"""

from __future__ import annotations

import re

ValueRange = tuple[float | None, float | None]
UNBOUNDED: ValueRange = (None, None)
CONSUMPTION_WORDS = ("ev", "evse", "evses", "load", "loads", "consumption", "demand", "heatpump", "boiler")
CONSUMPTION_PREFIXES = ("charg", "heat pump", "heat-pump", "heat_pump")
PRODUCTION_WORDS = ("pv", "solar", "wind", "production", "generation", "generator", "turbine")
MIXED_WORDS = ("net", "battery", "storage", "grid", "connection", "bidirectional", "v2g", "import/export")
POWER_OR_ENERGY_UNITS = re.compile(r"^(k|m|g)?w(h)?$", re.IGNORECASE)


def _words(texts: tuple[str | None, ...]) -> tuple[set[str], str]:
    joined = " ".join(t.lower() for t in texts if t)
    return set(re.split(r"[^a-z0-9/]+", joined)) - {""}, joined


def default_value_range(unit: str, *names: str | None) -> ValueRange:
    """The range implied by the sensor's ``unit`` and its names (sensor name, asset type, ...).

    Only power and energy units (W, kW, MW, GW, Wh, kWh, MWh, GWh) are bounded. A name that
    says "net", "battery", "grid" etc. (flow in both directions) leaves the range open.
    """
    if not POWER_OR_ENERGY_UNITS.match(unit.strip()):
        return UNBOUNDED
    words, joined = _words(names)
    if words & set(MIXED_WORDS):
        return UNBOUNDED
    consumption = bool(words & set(CONSUMPTION_WORDS)) or any(p in joined for p in CONSUMPTION_PREFIXES)
    production = bool(words & set(PRODUCTION_WORDS))
    if consumption and not production:
        return (0.0, None)
    if production and not consumption:
        return (None, 0.0)
    return UNBOUNDED
