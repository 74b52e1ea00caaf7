"""Sign binaries, added only where needed.

* no simultaneous charging and discharging of a device: ``down <= ub_down*(1 - on)`` reusing the
  charging indicator ``on`` when the device has one (see :mod:`~domain.scheduling.charging`), else
  a sign binary ``sigma`` with ``up <= ub_up*sigma`` and ``down <= ub_down*(1 - sigma)``;
* site: where the production price exceeds the consumption price, a binary keeps the site from
  consuming and producing in the same step (which would otherwise be a money pump).
"""

from __future__ import annotations

import numpy as np

from domain.scheduling.charging import OnIndicator
from domain.scheduling.formulation import Core
from domain.scheduling.layout import Flows
from domain.scheduling.lp_arrays import ModelArrays
from domain.scheduling.problem import SchedulingProblem


def _sign_with_on(m: ModelArrays, fl: Flows, core: Core, on: OnIndicator) -> None:
    down = fl.down_of[on.dev]
    dcol, dub = core.flow_col[down], fl.ub[down]
    both = (dcol >= 0) & (on.cols >= 0).any(axis=1)
    gg, tt = np.nonzero(both)
    rows = np.full(dcol.shape, -1)
    rows[gg, tt] = m.add_rows(len(gg), -np.inf, dub[gg, tt])
    m.add_terms(rows[gg, tt], dcol[gg, tt], 1.0)
    g3, l3, t3 = np.nonzero((on.cols >= 0) & both[:, None, :])
    m.add_terms(rows[g3, t3], on.cols[g3, l3, t3], dub[g3, t3])


def _sign_with_sigma(m: ModelArrays, fl: Flows, core: Core, dev: np.ndarray) -> None:
    up, down = fl.up_of[dev], fl.down_of[dev]
    ucol, dcol = core.flow_col[up], core.flow_col[down]
    gg, tt = np.nonzero((ucol >= 0) & (dcol >= 0))
    sigma = m.add_cols(len(gg), 0.0, 1.0, integer=True)
    up_rows = m.add_rows(len(gg), -np.inf, 0.0)
    m.add_terms(up_rows, ucol[gg, tt], 1.0)
    m.add_terms(up_rows, sigma, -fl.ub[up][gg, tt])
    down_ub = fl.ub[down][gg, tt]
    down_rows = m.add_rows(len(gg), -np.inf, down_ub)
    m.add_terms(down_rows, dcol[gg, tt], 1.0)
    m.add_terms(down_rows, sigma, down_ub)


def sign_binaries(m: ModelArrays, fl: Flows, core: Core, devices: np.ndarray, on: list[OnIndicator]) -> None:
    """Forbid simultaneous charging and discharging for the given (split) devices."""
    wanted = np.zeros(len(fl.up_of), dtype=bool)
    wanted[devices] = True
    wanted &= fl.split
    for group in on:
        mask = wanted[group.dev]
        if mask.any():
            _sign_with_on(m, fl, core, group.subset(mask))
        wanted[group.dev] = False
    if wanted.any():
        _sign_with_sigma(m, fl, core, np.flatnonzero(wanted))


def site_sign_binaries(m: ModelArrays, problem: SchedulingProblem, fl: Flows, plus, minus) -> None:
    """Where production pays more than consumption costs, the site may not do both at once."""
    steps = np.flatnonzero(problem.production_price_eur_per_mwh > problem.consumption_price_eur_per_mwh + 1e-9)
    if not len(steps):
        return
    signed_lb, signed_ub = fl.sign[:, None] * fl.lb, fl.sign[:, None] * fl.ub
    most_in = np.maximum(signed_lb, signed_ub).clip(min=0).sum(axis=0) + problem.inflexible_kw.clip(min=0)
    most_out = (-np.minimum(signed_lb, signed_ub)).clip(min=0).sum(axis=0) + (-problem.inflexible_kw).clip(min=0)
    big_in, big_out = most_in[steps] + 1.0, most_out[steps] + 1.0
    b = m.add_cols(len(steps), 0.0, 1.0, integer=True)
    rows_in = m.add_rows(len(steps), -np.inf, 0.0)
    m.add_terms(rows_in, plus[steps], 1.0)
    m.add_terms(rows_in, b, -big_in)
    rows_out = m.add_rows(len(steps), -np.inf, big_out)
    m.add_terms(rows_out, minus[steps], 1.0)
    m.add_terms(rows_out, b, big_out)
