"""The linear programs of the fleet solver, solved with HiGHS (highspy: warm starts, duals).

* The restricted master (:class:`Master`): choose a convex combination of generated
  charging profiles ("columns") per EV, subject to the site balance
  ``sum_d p_d[t] + inflexible[t] = import[t] - export[t]`` with ``0 <= import <= site
  consumption capacity`` and ``0 <= export <= site production capacity``; penalised slacks keep
  it feasible when the limits cannot hold (reported as unmet).
* The dispatch LP (:func:`solve_dispatch`): with each EV's charging steps fixed (its block), the
  powers within them are re-optimised jointly against the site limit (without blocks: the
  continuous relaxation).
* The block MILP (:func:`solve_block_mip`): one binary per candidate block and EV.

Objective unit: milli-EUR (EUR/MWh x kWh), as in :mod:`.formulation`.
"""

from __future__ import annotations

from dataclasses import dataclass

import highspy
import numpy as np
import scipy.sparse as sp

from domain.scheduling.deadline import Deadline
from domain.scheduling.formulation import PHYSICAL_BREACH_FACTOR
from domain.scheduling.highs_model import load, quiet_highs
from domain.scheduling.problem import SchedulingProblem


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
    time_limit_reached: bool = False
    optimal: bool = False
    """Solved to optimality (an LP's objective is then a proven bound on what it relaxes)."""


def run(h: highspy.Highs, deadline: Deadline, stage: str, time_s: float, with_duals: bool = False,
        patient: bool = True) -> LPOutcome:  # fmt: skip
    """Solve ``h`` within ``time_s`` under ``deadline`` (abandoned at its hard end, or when not
    ``patient`` at ``time_s``: not ok)."""
    if not deadline.run(stage, h, time_s, patient):
        return LPOutcome(False, None, float("nan"), None, True)
    info = h.getInfo()
    reached = h.getModelStatus() in (highspy.HighsModelStatus.kTimeLimit, highspy.HighsModelStatus.kInterrupt)
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal and info.primal_solution_status != 2:
        return LPOutcome(False, None, float("nan"), None, reached)
    sol = h.getSolution()
    duals = np.asarray(sol.row_dual) if with_duals else None
    optimal = h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    return LPOutcome(True, np.asarray(sol.col_value), float(info.objective_function_value), duals, reached, optimal)


class Master:
    """The restricted master LP, kept in one HiGHS instance: new columns warm-start the simplex.

    Rows: n balance rows, then one convexity row per EV. Columns: the site's 4n, then profiles.
    """

    def __init__(self, site: Site, n_ev: int) -> None:
        self.site, self.n_ev, self.n_profiles = site, n_ev, 0
        self.owner = np.zeros(0, dtype=int)
        self.h = quiet_highs(1.0)
        self.h.setOptionValue("simplex_strategy", 1)  # dual simplex from scratch (measured faster) ...
        self.h.setOptionValue("presolve", "off")  # (measured: 10 % less time at 1,000 EVs)
        self.solved = False
        self.abandoned = False
        """A solve was abandoned at the deadline: the instance may still be running, never touch it."""
        lb, ub = site.bounds()
        matrix = sp.vstack([site.balance_block(), sp.csr_matrix((n_ev, 4 * site.n))])
        rhs = np.concatenate([-site.inflexible, np.ones(n_ev)])
        load(self.h, site.objective(), lb, ub, matrix, rhs, rhs)

    def add(self, profiles: np.ndarray, owner: np.ndarray, costs: np.ndarray) -> None:
        """Append columns: ``profiles`` (k, n) kW, their EV ``owner`` (k,), objective ``costs`` (k,)."""
        if not len(costs) or self.abandoned:
            return
        block = sp.csc_matrix(np.asarray(profiles).T)
        convex = sp.csc_matrix((np.ones(len(owner)), (np.asarray(owner), np.arange(len(owner)))),
                               shape=(self.n_ev, len(owner)))  # fmt: skip
        a = sp.vstack([block, convex], format="csc")
        k = len(costs)
        self.h.addCols(k, np.asarray(costs, float), np.zeros(k), np.full(k, np.inf), a.nnz, a.indptr[:-1],
                       a.indices, a.data)  # fmt: skip
        self.n_profiles += k
        self.owner = np.concatenate([self.owner, np.asarray(owner, dtype=int)])

    def solve(self, deadline: Deadline, time_s: float) -> LPOutcome:
        """Solve; ``x`` are the profile weights, ``duals`` (balance (n,), convexity (n_ev,))."""
        if self.abandoned:
            return LPOutcome(False, None, float("nan"), None, True)
        out = run(self.h, deadline, "master", time_s, with_duals=True)
        self.abandoned = not out.ok and deadline.stages[-1].finished is False
        if out.ok and not self.solved:  # ... then primal simplex: new columns keep the basis primal feasible
            self.h.setOptionValue("simplex_strategy", 4)
            self.solved = True
        if not out.ok:
            return out
        return LPOutcome(True, out.x[4 * self.site.n :], out.objective, out.duals)


def solve_dispatch(site: Site, lo: np.ndarray, hi: np.ndarray, tie: np.ndarray, need, cap, penalty,
                   deadline: Deadline, time_s: float, stage: str = "dispatch", patient: bool = True):  # fmt: skip
    """Re-optimise powers (E, n) within fixed bounds ``lo <= p <= hi`` (kW) per EV and step, within
    ``time_s`` under ``deadline`` (recorded as ``stage``; ``patient``: see :meth:`.Deadline.run`).

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
    h = quiet_highs(time_s)
    h.setOptionValue("presolve", "off")  # measured: halves the time of this transportation-like LP
    matrix = sp.vstack([a_eq, a_ub], format="csc")
    load(h, c, lb, ub, matrix, np.concatenate([b_eq, np.full(len(b_ub), -np.inf)]), np.concatenate([b_eq, b_ub]))
    outcome = run(h, deadline, stage, time_s, with_duals=True, patient=patient)
    power = np.where(free, 0.0, lo)
    if not outcome.ok:
        return outcome, power, np.maximum(need - fixed_energy, 0.0)
    power[ee, tt] = outcome.x[:nf]
    return outcome, power, outcome.x[nf : nf + n_ev]


@dataclass(frozen=True, eq=False)
class Candidates:
    """Candidate blocks per EV for the block MILP: ``ev`` (B,), first and last step (B,) of each
    block (inclusive); ``min_kw`` (B,) the block's minimum power (0 for continuous EVs)."""

    ev: np.ndarray
    first: np.ndarray
    last: np.ndarray
    min_kw: np.ndarray


def _power_entries(cand: Candidates, n_ev: int, n: int) -> np.ndarray:
    """(n_ev, n) index of each EV's power column at a step (-1: no candidate block covers it)."""
    covered = np.zeros((n_ev, n), dtype=bool)
    for d, f, last in zip(cand.ev, cand.first, cand.last, strict=True):
        covered[d, f : last + 1] = True
    index = np.full((n_ev, n), -1)
    index[covered] = np.arange(int(covered.sum()))
    return index


def _block_triplets(cand: Candidates, index: np.ndarray, ub: np.ndarray, x0: int):
    """Coefficients of the block binaries in the power rows: (-ub) on ``p <= ub x``, (-min) on ``p >= min x``."""
    rows_hi, cols_hi, vals_hi, rows_lo, cols_lo, vals_lo = [], [], [], [], [], []
    for b, (d, f, last, m) in enumerate(zip(cand.ev, cand.first, cand.last, cand.min_kw, strict=True)):
        steps = np.arange(f, last + 1)
        rows_hi.append(index[d, steps])
        cols_hi.append(np.full(len(steps), x0 + b))
        vals_hi.append(-ub[d, steps])
        if m > 0 and last > f:
            rows_lo.append(index[d, steps[:-1]])
            cols_lo.append(np.full(len(steps) - 1, x0 + b))
            vals_lo.append(np.full(len(steps) - 1, -m))
    cat = lambda parts: np.concatenate(parts) if parts else np.zeros(0)  # noqa: E731
    return (cat(rows_hi), cat(cols_hi), cat(vals_hi)), (cat(rows_lo), cat(cols_lo), cat(vals_lo))


def _block_matrix(site: Site, ub: np.ndarray, cand: Candidates, index, dd, tt) -> sp.csc_matrix:
    """Rows: p <= ub x; p >= min x; one block per EV; energy + short >= need; energy <= cap; balance.
    Columns: block binaries (B), powers (P, in ``index`` order), shortfalls (E), the site's (4n)."""
    n_ev, n = ub.shape
    nb, npw = len(cand.ev), len(dd)
    p0, s0, site0 = nb, nb + npw, nb + npw + n_ev
    ncol = site0 + 4 * n
    powers = p0 + np.arange(npw)

    def rows_with_powers(triplets) -> sp.coo_matrix:
        r, c, v = triplets
        return sp.coo_matrix((np.concatenate([np.ones(npw), v]), (np.concatenate([np.arange(npw), r]),
                             np.concatenate([powers, c]))), shape=(npw, ncol))  # fmt: skip

    below_top, above_min = _block_triplets(cand, index, ub, 0)
    one = sp.coo_matrix((np.ones(nb), (cand.ev, np.arange(nb))), shape=(n_ev, ncol))
    energy = sp.coo_matrix((np.concatenate([np.full(npw, site.h), np.ones(n_ev)]),
                            (np.concatenate([dd, np.arange(n_ev)]), np.concatenate([powers, s0 + np.arange(n_ev)]))),
                           shape=(n_ev, ncol))  # fmt: skip
    energy_cap = sp.coo_matrix((np.full(npw, site.h), (dd, powers)), shape=(n_ev, ncol))
    balance = sp.hstack([sp.coo_matrix((np.ones(npw), (tt, powers)), shape=(n, site0)), site.balance_block()])
    parts = [rows_with_powers(below_top), rows_with_powers(above_min), one, energy, energy_cap, balance]
    return sp.vstack(parts, format="csc")


def solve_block_mip(site: Site, ub, tie, need, cap, penalty, cand: Candidates, deadline: Deadline, time_s: float,
                    gap: float):  # fmt: skip
    """Choose one candidate block per EV (binaries) and the powers within it (kW), jointly.

    ``ub`` / ``tie`` (E, n); ``need`` / ``cap`` / ``penalty`` (E,) as in :func:`solve_dispatch`.
    Returns ((powers (E, n), shortfalls (E,), proven lower bound of this MILP (milli-EUR)) or
    None when no solution was found in time; whether the time limit stopped it). With every
    feasible block as a candidate, the MILP is exact and its bound holds for the whole problem.
    """
    n_ev, n = ub.shape
    nb = len(cand.ev)
    index = _power_entries(cand, n_ev, n)
    dd, tt = np.nonzero(index >= 0)
    order = np.argsort(index[dd, tt])
    dd, tt = dd[order], tt[order]
    npw = len(dd)
    s0, site0 = nb + npw, nb + npw + n_ev
    inf = np.inf
    row_lo = np.concatenate([np.full(npw, -inf), np.zeros(npw), np.full(n_ev, -inf), need, np.full(n_ev, -inf),
                             -site.inflexible])  # fmt: skip
    row_hi = np.concatenate([np.zeros(npw), np.full(npw, inf), np.ones(n_ev), np.full(n_ev, inf),
                             np.where(np.isfinite(cap), cap, inf), -site.inflexible])  # fmt: skip
    lb_s, ub_s = site.bounds()
    c = np.concatenate([np.zeros(nb), tie[dd, tt] * site.h, penalty, site.objective()])
    lb = np.concatenate([np.zeros(nb + npw + n_ev), lb_s])
    ubs = np.concatenate([np.ones(nb), ub[dd, tt], np.full(n_ev, inf), ub_s])
    h = quiet_highs(time_s)
    h.setOptionValue("mip_rel_gap", gap)
    load(h, c, lb, ubs, _block_matrix(site, ub, cand, index, dd, tt), row_lo, row_hi, integer=np.arange(nb))
    out = run(h, deadline, "block-milp", time_s)
    if not out.ok:
        return None, out.time_limit_reached
    power = np.zeros((n_ev, n))
    power[dd, tt] = np.clip(out.x[nb:s0], 0.0, None)
    info = h.getInfo()
    bound = min(info.mip_dual_bound, info.objective_function_value)
    return (power, np.clip(out.x[s0:site0], 0.0, None), float(bound)), out.time_limit_reached
