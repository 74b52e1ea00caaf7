"""Fleet solver (column generation over no-pause charging blocks) against independent exact references.

* pricing: the vectorised threshold search against a plain per-block greedy (written here);
* small fleets: the solver's optimum against an enumeration of every combination of blocks,
  each solved as an LP with SciPy (an independent exact optimum of the same semantics);
* the reported bound is below that exact optimum and the reported gap is the one between the
  objective and that bound; a tiny time limit still gives an honest status;
* real data: 200 and 1,000 ACN sessions with minimum power and no pauses under a binding site
  limit meet every target (skipped without ../shared/data; the fleets: bench/fleet_data.py).
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from scipy.optimize import linprog

from domain.scheduling import TimeSeries, problem_from_flex, solve
from domain.scheduling.fleet import price_bound
from domain.scheduling.fleet_lp import Site
from domain.scheduling.fleet_model import FleetArrays, FleetEV, fleet_evs
from domain.scheduling.fleet_pricing import best_columns, enumerate_blocks
from domain.scheduling.fleet_start import continuous_bound

START = datetime(2024, 5, 1, tzinfo=UTC)
QUARTER = timedelta(minutes=15)
H = 0.25


def at(step: int) -> str:
    return (START + QUARTER * step).isoformat()


def ev(sensor: str, arrive: int, depart: int, target_kwh: float, power: str = "7 kW", **extra) -> dict:
    return {
        "sensor": sensor, "soc-at-start": 0, "soc-unit": "kWh", "production-capacity": "0 kW",
        "consumption-capacity": [{"start": at(arrive), "end": at(depart), "value": power}],
        "soc-targets": [{"datetime": at(depart), "value": target_kwh}], "no-pauses": True, **extra,
    }  # fmt: skip


def problem(models: list[dict], prices, n: int, sensors: dict | None = None, **context):
    series = TimeSeries(START, QUARTER, np.asarray(prices, dtype=float)[:n], "EUR/MWh")
    flex_context = {"consumption-price": series, **context}
    return problem_from_flex(models, flex_context, start=START, end=START + QUARTER * n, resolution=QUARTER,
                             resolve_sensor=(sensors or {}).get)  # fmt: skip


# --- pricing -------------------------------------------------------------------------------------


def reference_value(e: FleetEV, price: np.ndarray) -> float:
    """Cheapest value over every block by a plain greedy fill (the empty profile included)."""
    c = price + e.tie
    best = e.penalty * e.need_kwh
    avail = np.flatnonzero(e.ub_kw > 0)
    if not len(avail):
        return best
    w0, w1 = avail[0], avail[-1] + 1
    spans = [(a, b) for a in range(w0, w1) for b in range(a + 1, w1 + 1)] if e.no_pauses else [(w0, w1)]
    if e.start_at_arrival:
        spans = [(a, b) for a, b in spans if a == w0]
    for a, b in spans:
        m = e.min_kw
        if any(e.ub_kw[t] < m - 1e-9 for t in range(a, b - 1)) or e.ub_kw[b - 1] <= 0:
            continue
        base_e = m * H * (b - a - 1)
        if base_e > e.cap_kwh + 1e-9:
            continue
        cost = sum(c[t] * m * H for t in range(a, b - 1))
        pieces = sorted((c[t], (e.ub_kw[t] - (m if t < b - 1 else 0.0)) * H) for t in range(a, b))
        delivered = base_e
        for price_t, room in pieces:
            limit = e.cap_kwh if price_t < 0 else (e.need_kwh if price_t < e.penalty else 0.0)
            take = min(room, max(limit - delivered, 0.0))
            delivered += take
            cost += take * price_t
        best = min(best, cost + e.penalty * max(e.need_kwh - delivered, 0.0))
    return best


def random_ev(rng: np.random.Generator, index: int, n: int) -> FleetEV:
    arrive = int(rng.integers(0, n - 2))
    depart = int(rng.integers(arrive + 1, n + 1))
    ub = np.zeros(n)
    ub[arrive:depart] = rng.choice([3.7, 7.0, 11.0])
    if rng.random() < 0.3:
        ub[int(rng.integers(arrive, depart))] = 1.0  # a step below the minimum
    need = float(rng.uniform(0.1, 1.2) * ub.sum() * H)
    return FleetEV(
        index=index, ub_kw=ub, min_kw=float(rng.choice([1.38, 4.14])), no_pauses=bool(rng.random() < 0.8),
        start_at_arrival=bool(rng.random() < 0.2), need_kwh=need,
        cap_kwh=float(need * rng.choice([1.0, 1.5])) if rng.random() < 0.8 else np.inf, penalty=1e5,
        tie=np.linspace(0, 0.1, n),
    )  # fmt: skip


def test_vectorised_pricing_equals_a_plain_greedy_over_every_block():
    rng = np.random.default_rng(11)
    n = 16
    evs = [random_ev(rng, i, n) for i in range(60)]
    evs = [e if e.no_pauses else FleetEV(**{**e.__dict__, "min_kw": 0.0}) for e in evs]
    blocks = enumerate_blocks(evs, H)
    for spread in (0.0, 40.0, 400.0):  # 400: negative prices
        price = 80 + rng.normal(0, spread, n)
        values, columns = best_columns(evs, np.arange(len(evs)), blocks, price, H)
        for i, e in enumerate(evs):
            assert values[i] == pytest.approx(reference_value(e, price), rel=1e-9, abs=1e-6)
            column = columns[i][0]
            achieved = ((price + e.tie) @ column.power_kw) * H + e.penalty * column.shortfall_kwh
            assert achieved == pytest.approx(values[i], rel=1e-9, abs=1e-6)
            on = np.flatnonzero(column.power_kw > 1e-9)
            if e.no_pauses and len(on):
                assert np.all(np.diff(on) == 1)  # one block
                assert np.all(column.power_kw[on[:-1]] >= e.min_kw - 1e-9)  # the last step may be less
            assert np.all(column.power_kw <= e.ub_kw + 1e-9)


# --- small fleets against an exact enumeration ---------------------------------------------------


def exact_optimum_eur(prob) -> float:
    """Enumerate each EV's blocks (every start and end), solve each combination's LP with SciPy."""
    evs = fleet_evs(prob)
    site = Site.of(prob)
    n = prob.n_steps
    options = []
    for e in evs:
        avail = np.flatnonzero(e.ub_kw > 0)
        spans = [(a, b) for a in avail for b in range(a + 1, avail[-1] + 2)]
        spans = [(a, b) for a, b in spans if e.min_kw * H * (b - a - 1) <= e.cap_kwh + 1e-9]  # else infeasible
        if e.start_at_arrival:
            spans = [(a, b) for a, b in spans if a == avail[0]]
        options.append([None, *spans])
    best = np.inf
    for combo in itertools.product(*options):
        lo, hi = np.zeros((len(evs), n)), np.zeros((len(evs), n))
        for i, (e, span) in enumerate(zip(evs, combo, strict=True)):
            if span is not None:
                a, b = span
                hi[i, a:b] = e.ub_kw[a:b]
                lo[i, a : b - 1] = e.min_kw
        if np.any(lo > hi):
            continue
        best = min(best, _combo_lp(site, evs, lo, hi))
    return best / 1e3


def _combo_lp(site: Site, evs, lo: np.ndarray, hi: np.ndarray) -> float:
    """min energy cost + tie + penalties over powers in [lo, hi], shortfalls, site import (kW)."""
    n_ev, n = lo.shape
    n_p = n_ev * n
    c = np.concatenate([(np.vstack([e.tie for e in evs]) * H).ravel(), [e.penalty for e in evs], site.cons * H])
    a_ub, b_ub = [], []
    for i, e in enumerate(evs):  # delivered + short >= need; delivered <= cap
        row = np.zeros(n_p + n_ev + n)
        row[i * n : (i + 1) * n] = -H
        row[n_p + i] = -1
        a_ub.append(row)
        b_ub.append(-e.need_kwh)
        if np.isfinite(e.cap_kwh):
            row = np.zeros(n_p + n_ev + n)
            row[i * n : (i + 1) * n] = H
            a_ub.append(row)
            b_ub.append(e.cap_kwh)
    a_eq = np.zeros((n, n_p + n_ev + n))
    for t in range(n):
        a_eq[t, [i * n + t for i in range(n_ev)]] = 1
        a_eq[t, n_p + n_ev + t] = -1
    bounds = [*zip(lo.ravel(), hi.ravel(), strict=True), *[(0, None)] * n_ev, *[(0, cap) for cap in site.cap_cons]]
    res = linprog(c, A_ub=np.array(a_ub), b_ub=b_ub, A_eq=a_eq, b_eq=-site.inflexible, bounds=bounds, method="highs")
    return res.fun if res.status == 0 else np.inf


SMALL_PRICES = [90, 60, 40, 35, 50, 120, 150, 45, 30]


MIN_4 = {"min-charging-power": "4.14 kW"}
MIN_1 = {"min-charging-power": "1.38 kW"}


@pytest.mark.parametrize(
    "models, limit_kw",
    [
        ([ev("a", 0, 5, 3.0, **MIN_4), ev("b", 3, 9, 4.2, **MIN_1)], 9.0),
        ([ev("a", 0, 6, 0.3, **MIN_1), ev("b", 2, 9, 5.0, **{"start-at-arrival": True})], 8.0),
        ([ev("a", 1, 8, 2.0, power="11 kW"), ev("b", 2, 9, 2.6, power="11 kW")], 12.0),
    ],
)
def test_small_fleets_reach_the_exact_optimum(models, limit_kw):
    prob = problem(models, SMALL_PRICES, 9, **{"site-power-capacity": f"{limit_kw} kW"})
    result = solve(prob, time_limit_s=60)  # generous: converges long before, even on a loaded machine
    assert result.method.startswith("fleet-cg")
    exact = exact_optimum_eur(prob)
    assert result.objective_eur == pytest.approx(exact, rel=1e-6, abs=1e-6)
    assert result.bound_eur <= exact + 1e-6  # the bound is proven: never above the optimum
    assert result.status == "optimal" and result.mip_gap <= 1e-4
    assert result.mip_gap == pytest.approx(
        max(result.objective_eur - result.bound_eur, 0) / abs(result.objective_eur), abs=1e-9
    )
    assert not result.unmet
    assert result.site_power_kw.max() <= limit_kw + 1e-6
    evs = fleet_evs(prob)  # the bound a fleet cut short before any LP reports: proven too
    site = Site.of(prob)
    assert price_bound(site, evs, enumerate_blocks(evs, H), site.cons) / 1e3 <= exact + 1e-6
    assert continuous_bound(site, FleetArrays.of(evs), site.cons) / 1e3 <= exact + 1e-6  # the cheaper one too


def test_time_varying_limit_inflexible_load_and_production():
    n = 9
    inflexible = TimeSeries(START, QUARTER, np.array([2, 2, -3, -5, -5, 1, 4, 4, 2.0]), "kW")
    models = [ev("a", 2, 9, 4.0, **{"min-charging-power": "1.38 kW"}), ev("b", 0, 7, 3.0, **{"no-pauses": False})]
    limits = [{"start": at(0), "end": at(5), "value": "6 kW"}, {"start": at(5), "end": at(9), "value": "9 kW"}]
    prob = problem(models, SMALL_PRICES, n, sensors={99: inflexible}, **{"site-consumption-capacity": limits,
                                                "inflexible-device-sensors": [99]})  # fmt: skip
    result = solve(prob, time_limit_s=60)
    assert result.method.startswith("fleet-cg")
    assert result.objective_eur == pytest.approx(exact_optimum_eur(prob), rel=1e-6, abs=1e-6)
    assert not result.unmet
    assert np.all(result.site_power_kw <= np.array([6] * 5 + [9] * 4) + 1e-6)


def test_a_tiny_time_limit_still_reports_honestly():
    rng = np.random.default_rng(5)
    models = []
    for i in range(150):
        arrive = int(rng.integers(0, 40))
        depart = min(arrive + int(rng.integers(12, 40)), 96)
        models.append(ev(f"ev{i}", arrive, depart, round(float(rng.uniform(3, 20)), 2), **MIN_1))
    prices = np.repeat(80 + 40 * np.sin(np.arange(24) / 3.0), 4)
    prob = problem(models, prices, 96, **{"site-power-capacity": "250 kW"})
    result = solve(prob, time_limit_s=0.05, relative_gap=1e-6)
    assert result.time_limit_reached  # 150 EVs take far longer than 50 ms: the limit cut the solve short
    assert result.status in ("optimal", "feasible")
    assert (result.status == "optimal") == (result.mip_gap <= 1e-6)
    # a proven bound when any time was left after the start (at worst the Lagrangian at the
    # consumption prices, :func:`continuous_bound`); none only when the time was up before
    if np.isfinite(result.bound_eur):
        assert result.bound_eur <= result.objective_eur + 1e-9
    else:
        assert result.status == "feasible" and np.isnan(result.mip_gap)
    for schedule in result.devices:  # whatever the time: schedules keep the device semantics
        on = np.flatnonzero(schedule.power_kw > 1e-9)
        assert len(on) == 0 or np.all(np.diff(on) == 1)


# --- real data -------------------------------------------------------------------------------------


@pytest.mark.shared_data
@pytest.mark.parametrize("n_ev", [200, 1000])
def test_acn_fleets_meet_every_reachable_target_under_a_binding_site_limit(n_ev):
    """Every target is reachable on its own (bench/fleet_data.py caps the energy), and together
    under the site limit; the generous time limit keeps the test independent of the machine's
    load (the speed is measured by bench/fleet_schedule.py)."""
    from infra.shared_data import shared_data_dir

    data_dir = shared_data_dir()
    if data_dir is None:
        pytest.skip("../shared/data absent: set FLEXLEDGER_SHARED_DATA to the shared data folder")
    from bench.fleet_data import acn_fleet_problem

    prob, uncontrolled_peak_kw = acn_fleet_problem(data_dir, n_ev)
    result = solve(prob, time_limit_s=120)
    limit = prob.site_consumption_capacity_kw.max()
    assert uncontrolled_peak_kw > limit  # the limit binds
    assert result.method.startswith("fleet-cg")
    assert not result.time_limit_reached
    assert not result.unmet  # every target reachable on its own is met, and the site limit holds
    assert result.site_power_kw.max() <= limit + 1e-6
    assert result.status == "optimal" and result.mip_gap <= 1e-4  # the gap proven, within the one asked for
    assert result.bound_eur <= result.objective_eur + 1e-9
    assert result.mip_gap == pytest.approx((result.objective_eur - result.bound_eur) / result.objective_eur, abs=1e-9)
    for device, schedule in zip(prob.devices, result.devices, strict=True):
        on = np.flatnonzero(schedule.power_kw > 1e-9)
        assert len(on) and np.all(np.diff(on) == 1)
        assert np.all(schedule.power_kw[on[:-1]] >= device.min_charging_power_kw - 1e-6)


# --- routing -------------------------------------------------------------------------------------


def _available_all_day(sensor: str, target_at: int, target_kwh: float, **extra) -> dict:
    """An EV that may charge over the whole horizon (no availability window): only its target
    instant says when it leaves, as with the API's default 48 h horizon."""
    return {
        "sensor": sensor, "soc-at-start": 0, "soc-unit": "kWh", "production-capacity": "0 kW",
        "consumption-capacity": "7 kW", "soc-targets": [{"datetime": at(target_at), "value": target_kwh}],
        "no-pauses": True, **extra,
    }  # fmt: skip


def test_evs_that_may_charge_after_their_target_go_to_the_fleet_solver_with_the_per_step_optimum():
    """Charging after the target only costs when no price is negative: the fleet solver takes the
    site and finds the per-step model's optimum (the cheapest step, 30 EUR/MWh, comes after it)."""
    models = [_available_all_day("a", 5, 3.0, **MIN_4), _available_all_day("b", 6, 2.0, **MIN_1)]
    prob = problem(models, SMALL_PRICES, 9, **{"site-power-capacity": "8 kW"})
    fleet = solve(prob, time_limit_s=60)
    per_step = solve(prob, time_limit_s=60, relative_gap=0.0, formulation="per-step")
    assert fleet.method.startswith("fleet-cg") and per_step.status == "optimal"
    assert fleet.objective_eur == pytest.approx(per_step.objective_eur, rel=1e-6, abs=1e-6)
    assert not fleet.unmet
    for schedule in fleet.devices:
        assert not schedule.power_kw[6:].any()


def test_a_negative_price_after_the_target_keeps_the_per_step_model():
    """With a negative price after its target, charging then pays: the fleet solver, which never
    charges after the target, does not take the site."""
    models = [_available_all_day("a", 5, 3.0, **MIN_4)]
    prob = problem(models, [*SMALL_PRICES[:7], -20, 30], 9)
    assert fleet_evs(prob) is None
    assert solve(prob, time_limit_s=60).method.startswith("relaxation")
