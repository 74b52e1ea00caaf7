"""Solver backends and limits: SCIP gives the schedules HiGHS gives; bad options are refused."""

from __future__ import annotations

import numpy as np
import pytest
from test_scheduling_ev import QUARTER, START, ev, wave_prices

from domain.scheduling import SOLVER_BACKENDS, problem_from_flex, solve


def _ev_site(**extra) -> object:
    """Three EVs behind a 10 kW connection, with FINESCE charging modes (a MILP; targets are
    multiples of the 0.44 kWh a 1.76 kW step charges, so they can be met exactly)."""
    modes = {"charging-modes": ["0 kW", "1.76 kW", "3.52 kW"], **extra}
    flex_model = [ev("a", 0, 40, 8.8, **modes), ev("b", 8, 60, 17.6, **modes), ev("c", 30, 96, 13.2, **modes)]
    context = {"consumption-price": wave_prices(), "site-power-capacity": "10 kW"}
    return problem_from_flex(flex_model, context, start=START, end=START + QUARTER * 96, resolution=QUARTER)


@pytest.mark.parametrize("backend", SOLVER_BACKENDS)
def test_every_backend_reaches_the_targets_at_the_same_cost(backend):
    reference = solve(_ev_site(), backend="highs", relative_gap=1e-6)
    result = solve(_ev_site(), backend=backend, relative_gap=1e-6)
    assert result.status == "optimal"
    assert not result.unmet
    assert [d.soc_kwh[-1] for d in result.devices] == pytest.approx([8.8, 17.6, 13.2], abs=1e-6)
    assert np.all(result.site_power_kw <= 10.0 + 1e-6)
    assert result.total_cost_eur == pytest.approx(reference.total_cost_eur, rel=1e-5)


def test_unknown_backend_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="highs, scip"):
        solve(_ev_site(), backend="cbc")


@pytest.mark.parametrize("limits", [{"time_limit_s": 0.0}, {"relative_gap": -0.1}])
def test_non_positive_limits_are_refused(limits):
    with pytest.raises(ValueError, match="time_limit_s"):
        solve(_ev_site(), **limits)


def test_a_loose_gap_still_gives_a_schedule_within_it():
    """At a 5 % gap the staged solve may stop early; the schedule keeps every constraint."""
    result = solve(_ev_site(**{"no-pauses": True}), relative_gap=0.05, time_limit_s=10.0)
    assert result.status in ("optimal", "feasible")
    assert not result.unmet
    assert result.mip_gap <= 0.05 + 1e-9 or result.status == "feasible"
