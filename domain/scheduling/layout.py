"""Stack a problem's devices into (devices x steps) arrays and decide each device's power "flows".

A flow is one non-negative-or-signed power column per step:

* ``net`` — the device's power ``p`` itself (signed, consumption positive), used when one
  column suffices: the device only charges, only discharges, or converts without losses;
* ``up`` / ``down`` — charge and discharge magnitudes (``p = up - down``), used when a device
  can do both with conversion losses, or when charging needs binaries (modes, min power,
  no-pauses). Stored energy per step changes by ``kappa*h*(eta_c*up - down/eta_d)``.

Everything here is vectorised over devices; no Python loop per step or per device column.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from domain.scheduling.problem import SchedulingProblem
from domain.scheduling.storage import loss_factor

NET, UP, DOWN = 0, 1, 2


@dataclass(frozen=True, eq=False)
class Stacked:
    """Device data as arrays: (D,) per device, (D, n) per step, (D, n + 1) per instant."""

    n: int
    hours: float
    power_min: np.ndarray
    power_max: np.ndarray
    soc0: np.ndarray
    retain: np.ndarray
    kappa: np.ndarray
    eta_c: np.ndarray
    eta_d: np.ndarray
    prefer: np.ndarray
    needs_binaries: np.ndarray
    soc_min: np.ndarray
    soc_max: np.ndarray
    floor: np.ndarray
    ceiling: np.ndarray


@dataclass(frozen=True, eq=False)
class Flows:
    """F flows: owner device ``dev`` (F,), ``kind`` (NET/UP/DOWN), power ``sign`` (+1/-1),
    stored-energy coefficient ``coef`` (kWh stored per kWh of flow), bounds ``lb``/``ub`` (F, n),
    ``active`` (F, n) where the flow can be non-zero; ``up_of``/``down_of`` (D,) flow index or -1.
    """

    dev: np.ndarray
    kind: np.ndarray
    sign: np.ndarray
    coef: np.ndarray
    lb: np.ndarray
    ub: np.ndarray
    active: np.ndarray
    up_of: np.ndarray
    down_of: np.ndarray
    split: np.ndarray


def stack(problem: SchedulingProblem) -> Stacked:
    devices = problem.devices
    n = problem.n_steps

    def per_device(attr: str) -> np.ndarray:
        return np.array([getattr(d, attr) for d in devices], dtype=float)

    def rows(attr: str, width: int) -> np.ndarray:
        if not devices:
            return np.zeros((0, width))
        return np.vstack([getattr(d, attr) for d in devices]).astype(float)

    retain = per_device("storage_efficiency")
    minima, maxima, targets = (
        rows("soc_minima_kwh", n + 1),
        rows("soc_maxima_kwh", n + 1),
        rows("soc_targets_kwh", n + 1),
    )
    return Stacked(
        n=n,
        hours=problem.hours,
        power_min=rows("power_min_kw", n),
        power_max=rows("power_max_kw", n),
        soc0=per_device("soc_at_start_kwh"),
        retain=retain,
        kappa=np.array([loss_factor(s, problem.loss_timing) for s in retain]),
        eta_c=per_device("charging_efficiency"),
        eta_d=per_device("discharging_efficiency"),
        prefer=np.array([d.prefer_charging_sooner for d in devices], dtype=bool),
        needs_binaries=np.array([d.needs_binaries for d in devices], dtype=bool),
        soc_min=rows("soc_min_kwh", n + 1),
        soc_max=rows("soc_max_kwh", n + 1),
        floor=np.fmax(minima, targets),
        ceiling=np.fmin(maxima, targets),
    )


def _net_coef(st: Stacked, has_up: np.ndarray, has_down: np.ndarray) -> np.ndarray:
    coef = np.ones(len(st.soc0))
    only_up, only_down = has_up & ~has_down, has_down & ~has_up
    coef[only_up] = st.eta_c[only_up]
    coef[only_down] = 1.0 / st.eta_d[only_down]
    return coef


def flows(st: Stacked) -> Flows:
    """Decide net vs up/down flows per device (vectorised) and their bounds."""
    has_up = (st.power_max > 0).any(axis=1)
    has_down = (st.power_min < 0).any(axis=1)
    lossy = (st.eta_c < 1) | (st.eta_d < 1)
    split = has_up & has_down & (lossy | st.needs_binaries)
    net_dev, split_dev = np.flatnonzero(~split), np.flatnonzero(split)
    dev = np.concatenate([net_dev, split_dev, split_dev])
    kind = np.concatenate([np.full(len(net_dev), NET), np.full(len(split_dev), UP), np.full(len(split_dev), DOWN)])
    sign = np.where(kind == DOWN, -1.0, 1.0)
    coef = np.concatenate([_net_coef(st, has_up, has_down)[net_dev], st.eta_c[split_dev], -1.0 / st.eta_d[split_dev]])
    pmin, pmax = st.power_min, st.power_max
    lb = np.vstack([pmin[net_dev], np.maximum(pmin[split_dev], 0.0), np.maximum(-pmax[split_dev], 0.0)]).reshape(
        len(dev), st.n
    )
    ub = np.vstack([pmax[net_dev], np.maximum(pmax[split_dev], 0.0), np.maximum(-pmin[split_dev], 0.0)]).reshape(
        len(dev), st.n
    )
    n_dev = len(st.soc0)
    up_of = np.full(n_dev, -1)
    up_of[dev[kind != DOWN]] = np.flatnonzero(kind != DOWN)
    down_of = np.full(n_dev, -1)
    down_of[dev[kind == DOWN]] = np.flatnonzero(kind == DOWN)
    active = (lb != 0) | (ub != 0)
    return Flows(dev, kind, sign, coef, lb, ub, active, up_of, down_of, split)


def stored_change_bounds(st: Stacked, fl: Flows) -> tuple[np.ndarray, np.ndarray]:
    """Per device and step, min and max stored-energy change (kWh, loss factor applied)."""
    lo_e = np.minimum(fl.coef[:, None] * fl.lb, fl.coef[:, None] * fl.ub) * st.hours
    hi_e = np.maximum(fl.coef[:, None] * fl.lb, fl.coef[:, None] * fl.ub) * st.hours
    dmin = np.zeros((len(st.soc0), st.n))
    dmax = np.zeros((len(st.soc0), st.n))
    np.add.at(dmin, fl.dev, lo_e)
    np.add.at(dmax, fl.dev, hi_e)
    return dmin * st.kappa[:, None], dmax * st.kappa[:, None]
