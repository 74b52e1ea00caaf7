"""Carbon of battery readings (issue 14): the emission factor, or carbon-intensity readings per part of
each interval (finer and coarser than the power's), with the factor where no reading covers."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from domain import myems_carbon as mc
from domain.units import UnitError


def test_units_convert_to_kg_per_kwh():
    assert mc.kg_per_kwh_factor("g/kWh") == pytest.approx(0.001)
    assert mc.kg_per_kwh_factor("kg/MWh") == pytest.approx(0.001)
    with pytest.raises(UnitError):
        mc.kg_per_kwh_factor("kW")


def test_factor_only():
    assert mc.carbon_kg([(0, 4.0, 3600), (3600, -2.0, 1800), (5400, 0.0, 1800)], 0.5) == (2.0, 0.5)


def test_intensity_finer_than_power_and_gaps_take_the_factor():
    intensity = mc.CarbonIntensity({0: 0.1, 900: 0.2, 2700: 0.4}, 900)  # 1800-2700 has no reading
    charge, _ = mc.carbon_kg([(0, 4.0, 3600)], 1.0, intensity)
    assert charge == pytest.approx(4 * 0.25 * (0.1 + 0.2 + 1.0 + 0.4))


def test_intensity_coarser_than_power_and_before_the_first_reading():
    intensity = mc.CarbonIntensity({3600: 0.3}, 3600)
    rows = [(2700, 8.0, 900), (3600, 8.0, 900), (7200, -8.0, 900)]
    charge, discharge = mc.carbon_kg(rows, 1.0, intensity)
    assert charge == pytest.approx(8 * 0.25 * 1.0 + 8 * 0.25 * 0.3) and discharge == pytest.approx(2.0)
    by_day = mc.carbon_by_period(rows, 1.0, intensity, "daily", ZoneInfo("UTC"))
    assert by_day == {"charge": {"1970-01-01": 2.6}, "discharge": {"1970-01-01": 2.0}}


def test_instantaneous_readings_hold_until_the_next():
    intensity = mc.CarbonIntensity({0: 0.1, 1800: 0.3}, 0)
    assert mc.carbon_kg([(900, 4.0, 3600)], 9.0, intensity)[0] == pytest.approx(4 * (0.25 * 0.1 + 0.75 * 0.3))


def test_energy_values_spread_over_their_interval_or_at_their_start():
    intensity = mc.CarbonIntensity({0: 0.1, 1800: 0.3}, 1800)
    assert mc.energy_kg([(0, 4.0)], 3600, 1.0, intensity) == pytest.approx(2 * 0.1 + 2 * 0.3)
    assert mc.energy_kg([(1800, 2.0), (3600, -1.0)], 0, 0.5, intensity) == pytest.approx(2 * 0.3 - 0.5)
    assert mc.energy_kg([(0, 4.0)], 3600, 0.5) == pytest.approx(2.0)
