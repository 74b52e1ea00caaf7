"""The linear programs of the fleet solver, solved with HiGHS through SciPy (duals included).

* The restricted master (:func:`solve_master`): choose a convex combination of generated
  charging profiles ("columns") per EV, subject to the site balance
  ``sum_d p_d[t] + inflexible[t] = import[t] - export[t]`` with ``0 <= import <= site
  consumption capacity`` and ``0 <= export <= site production capacity``; penalised slacks keep
  it feasible when the limits cannot hold (reported as unmet).
* The dispatch LP (:func:`solve_dispatch`): with each EV's charging steps fixed (its block), the
  powers within them are re-optimised jointly against the site limit.

Objective unit: milli-EUR (EUR/MWh x kWh), as in :mod:`.formulation`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from domain.scheduling.formulation import PHYSICAL_BREACH_FACTOR
from domain.scheduling.problem import SchedulingProblem

MIN_TIME_S = 0.01


@dataclass(frozen=True, eq=False)
class Site:
    """The site's side of every model: prices, capacities and inflexible load per step."""

    h: float
    cons: np.ndarray
    prod: np.ndarray
    cap_cons: np.ndarray
    cap_prod: np.ndarray
    inflexible: np.ndarray
    slack_price: float

    @classmethod
    def of(cls, problem: SchedulingProblem) -> Site:
        return cls(
            h=problem.hours,
            cons=problem.consumption_price_eur_per_mwh,
            prod=problem.production_price_eur_per_mwh,
            cap_cons=problem.site_consumption_capacity_kw,
            cap_prod=problem.site_production_capacity_kw,
            inflexible=problem.inflexible_kw,
            slack_price=PHYSICAL_BREACH_FACTOR * problem.breach_price_eur_per_kwh * 1e3,
        )

    @property
    def n(self) -> int:
        return len(self.cons)

    def objective(self) -> np.ndarray:
        """Costs of (import, export, import slack, export slack) per step, milli-EUR per kW."""
        h = self.h
        return np.concatenate([self.cons * h, -self.prod * h, (self.cons + self.slack_price) * h,
                               (self.slack_price - self.prod) * h])  # fmt: skip

    def balance_block(self) -> sp.csr_matrix:
        """Coefficients of (import, export, import slack, export slack) in the balance rows."""
        eye = sp.identity(self.n, format="csr")
        return sp.hstack([-eye, eye, -eye, eye], format="csr")

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        n = self.n
        return np.zeros(4 * n), np.concatenate([self.cap_cons, self.cap_prod, np.full(2 * n, np.inf)])


@dataclass(frozen=True, eq=False)
class LPOutcome:
    ok: bool
    x: np.ndarray | None
    objective: float
    duals: np.ndarray | None
    bound: float = float("nan")


def _lp(c, a_eq, b_eq, lb, ub, time_s: float, a_ub=None, b_ub=None) -> LPOutcome:
    res = linprog(
        c, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=np.column_stack([lb, ub]), method="highs",
        options={"time_limit": max(time_s, MIN_TIME_S), "presolve": True},
    )  # fmt: skip
    if res.status != 0 or res.x is None:
        return LPOutcome(False, None, float("nan"), None)
    return LPOutcome(True, res.x, float(res.fun), np.asarray(res.eqlin.marginals))


def master_matrix(site: Site, profiles: sp.csr_matrix, owner: np.ndarray, n_ev: int) -> sp.csr_matrix:
    """Rows: n balance rows, then one convexity row per EV. Columns: profiles, then the site's."""
    k = profiles.shape[0]
    convex = sp.csr_matrix((np.ones(k), (owner, np.arange(k))), shape=(n_ev, k))
    top = sp.hstack([profiles.T.tocsr(), site.balance_block()], format="csr")
    bottom = sp.hstack([convex, sp.csr_matrix((n_ev, 4 * site.n))], format="csr")
    return sp.vstack([top, bottom], format="csr")


def solve_master(site: Site, profiles, owner, costs, n_ev: int, time_s: float) -> LPOutcome:
    """The restricted master LP; ``duals`` = (balance duals (n,), convexity duals (n_ev,))."""
    a = master_matrix(site, profiles, owner, n_ev)
    b = np.concatenate([-site.inflexible, np.ones(n_ev)])
    lb_s, ub_s = site.bounds()
    c = np.concatenate([costs, site.objective()])
    lb = np.concatenate([np.zeros(len(costs)), lb_s])
    ub = np.concatenate([np.ones(len(costs)), ub_s])
    return _lp(c, a, b, lb, ub, time_s)


def solve_master_mip(site: Site, profiles, owner, costs, n_ev: int, fixed: np.ndarray, time_s: float, gap: float):
    """The restricted master with one profile per EV (binaries); ``fixed`` (K,) columns forced to 1.

    Returns (chosen column per EV or None, proven lower bound of this restricted problem)."""
    a = master_matrix(site, profiles, owner, n_ev)
    b = np.concatenate([-site.inflexible, np.ones(n_ev)])
    lb_s, ub_s = site.bounds()
    k = len(costs)
    c = np.concatenate([costs, site.objective()])
    lb = np.concatenate([fixed.astype(float), lb_s])
    ub = np.concatenate([np.ones(k), ub_s])
    integrality = np.concatenate([np.ones(k), np.zeros(4 * site.n)])
    res = milp(
        c, integrality=integrality, bounds=Bounds(lb, ub), constraints=LinearConstraint(a, b, b),
        options={"time_limit": max(time_s, MIN_TIME_S), "mip_rel_gap": gap, "presolve": True},
    )  # fmt: skip
    if res.x is None:
        return None
    chosen = np.full(n_ev, -1)
    picked = np.flatnonzero(res.x[:k] > 0.5)
    chosen[owner[picked]] = picked
    return chosen


def solve_dispatch(site: Site, lo: np.ndarray, hi: np.ndarray, tie: np.ndarray, need, cap, penalty, time_s: float):
    """Re-optimise powers (E, n) within fixed bounds ``lo <= p <= hi`` (kW) per EV and step.

    ``tie`` (E, n): EUR/MWh added per EV and step; ``need``/``cap`` (E,): grid kWh each EV needs
    / may take; ``penalty`` (E,): milli-EUR per kWh short. Returns (outcome, powers (E, n),
    shortfalls (E,)); variables: free powers, then shortfalls, then the site's columns.
    """
    n_ev, n = lo.shape
    free = hi > lo + 1e-12
    ee, tt = np.nonzero(free)
    nf = len(ee)
    fixed_load = np.where(free, 0.0, lo).sum(axis=0)
    fixed_energy = np.where(free, 0.0, lo).sum(axis=1) * site.h
    balance = sp.csr_matrix((np.ones(nf), (tt, np.arange(nf))), shape=(n, nf))
    a_eq = sp.hstack([balance, sp.csr_matrix((n, n_ev)), site.balance_block()], format="csr")
    b_eq = -site.inflexible - fixed_load
    energy = sp.csr_matrix((np.full(nf, site.h), (ee, np.arange(nf))), shape=(n_ev, nf))
    short = sp.identity(n_ev, format="csr")
    zeros = sp.csr_matrix((n_ev, 4 * n))
    a_ub = sp.vstack([sp.hstack([-energy, -short, zeros]), sp.hstack([energy, sp.csr_matrix((n_ev, n_ev)), zeros])])
    b_ub = np.concatenate([fixed_energy - need, np.where(np.isfinite(cap), cap, 1e12) - fixed_energy])
    lb_s, ub_s = site.bounds()
    c = np.concatenate([tie[ee, tt] * site.h, penalty, site.objective()])
    lb = np.concatenate([lo[ee, tt], np.zeros(n_ev), lb_s])
    ub = np.concatenate([hi[ee, tt], np.full(n_ev, np.inf), ub_s])
    outcome = _lp(c, a_eq, b_eq, lb, ub, time_s, a_ub.tocsr(), b_ub)
    power = np.where(free, 0.0, lo)
    if not outcome.ok:
        return outcome, power, np.maximum(need - fixed_energy, 0.0)
    power[ee, tt] = outcome.x[:nf]
    return outcome, power, outcome.x[nf : nf + n_ev]
