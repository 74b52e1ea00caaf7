"""SoC without SoC columns for monotone, lossless devices (e.g. EVs that only charge).

When a device keeps its energy (storage efficiency 1) and its SoC can only rise (or only
fall), ``soc[k] = soc0 + h * coef * sum(flow[t] for t < k)``, and a bound at every instant
reduces to the few instants where it can bind: an upper bound only where it is lower than every
later upper bound, a lower bound only where it is higher than the start SoC and every earlier
lower bound (mirrored for falling SoC). An EV with soc-min/soc-max and a target at departure
then needs about two rows and no SoC columns: the LP halves in size and HiGHS' presolve has
nothing to eliminate.
"""

from __future__ import annotations

import numpy as np

from domain.scheduling.layout import NET, Flows, Stacked
from domain.scheduling.lp_arrays import ModelArrays

MAX_CUMULATIVE_ROWS = 16
"""Devices needing more constrained instants than this keep per-step SoC columns (sparser)."""


def monotone_direction(st: Stacked, fl: Flows) -> np.ndarray:
    """(D,) +1 where the SoC can only rise, -1 only fall, 0 otherwise (or with storage losses)."""
    direction = np.zeros(len(st.soc0), dtype=int)
    net = np.flatnonzero(fl.kind == NET)
    rising = (fl.lb[net] >= 0).all(axis=1)
    falling = (fl.ub[net] <= 0).all(axis=1)
    direction[fl.dev[net[falling]]] = -1
    direction[fl.dev[net[rising]]] = 1
    direction[st.retain < 1.0] = 0
    return direction


def _prefix(values: np.ndarray, start: np.ndarray, op) -> np.ndarray:
    """op-accumulate over instants 1..k-1 together with the start SoC (result at instant k)."""
    before = np.concatenate([start[:, None], values[:, 1:-1]], axis=1)
    out = np.empty_like(values)
    out[:, 0] = np.nan
    out[:, 1:] = op.accumulate(before, axis=1)
    return out


def _suffix(values: np.ndarray, op, fill: float) -> np.ndarray:
    """op-accumulate over instants k+1..n (result at instant k)."""
    after = np.concatenate([values[:, 1:], np.full((len(values), 1), fill)], axis=1)
    return op.accumulate(after[:, ::-1], axis=1)[:, ::-1]


def binding_instants(low: np.ndarray, high: np.ndarray, soc0: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """(D, n+1) instants where hard bounds ``low``/``high`` can bind for monotone devices."""
    with np.errstate(invalid="ignore"):
        up = ((high < _suffix(high, np.minimum, np.inf)) & np.isfinite(high)) | (
            (low > _prefix(low, soc0, np.maximum)) & np.isfinite(low)
        )
        down = ((high < _prefix(high, soc0, np.minimum)) & np.isfinite(high)) | (
            (low > _suffix(low, np.maximum, -np.inf)) & np.isfinite(low)
        )
    need = np.where(direction[:, None] > 0, up, np.where(direction[:, None] < 0, down, False))
    need[:, 0] = False
    return need


def add_rows(
    m: ModelArrays,
    st: Stacked,
    fl: Flows,
    flow_col: np.ndarray,
    where: np.ndarray,
    bounds: tuple[np.ndarray, np.ndarray],
    slack_price: float | None,
) -> None:
    """Rows ``low - soc0 <= h*coef*sum(flow[t < k]) (+ under - over) <= high - soc0`` at ``where`` (D, n+1).

    With ``slack_price`` (mEUR per kWh) the bounds are soft. Instants before any flow are
    skipped (nothing to decide; breaches are reported from the result).
    """
    low, high = bounds
    dd, kk = np.nonzero(where)
    flow = fl.up_of[dd]
    cols = flow_col[flow]
    before = (cols >= 0) & (np.arange(st.n)[None, :] < kk[:, None])
    keep = before.any(axis=1)
    dd, kk, flow, cols, before = dd[keep], kk[keep], flow[keep], cols[keep], before[keep]
    lo = np.where(np.isfinite(low[dd, kk]), low[dd, kk] - st.soc0[dd], -np.inf)
    hi = np.where(np.isfinite(high[dd, kk]), high[dd, kk] - st.soc0[dd], np.inf)
    rows = m.add_rows(len(dd), lo, hi)
    pp, tt = np.nonzero(before)
    m.add_terms(rows[pp], cols[pp, tt], st.hours * fl.coef[flow[pp]])
    if slack_price is not None:
        for sign, finite in ((1.0, np.isfinite(lo)), (-1.0, np.isfinite(hi))):
            slack = m.add_cols(int(finite.sum()), 0.0, np.inf, slack_price)
            m.add_terms(rows[finite], slack, sign)


def soc_paths(st: Stacked, fl: Flows, flow_values: np.ndarray, devices: np.ndarray) -> np.ndarray:
    """(len(devices), n+1) SoC of cumulative devices from their flow values (kW)."""
    flow = fl.up_of[devices]
    stored = st.hours * fl.coef[flow][:, None] * flow_values[flow]
    return st.soc0[devices, None] + np.concatenate([np.zeros((len(devices), 1)), np.cumsum(stored, axis=1)], axis=1)
