"""State-of-charge bookkeeping: storage losses and SoC paths (pure functions, kWh).

A step's energy change ``delta`` (kWh stored: ``charge_kw*h*eta_c - discharge_kw*h/eta_d``) and
the storage efficiency ``s`` (fraction of the SoC retained per step) combine as

* ``"right"`` (default): losses first, then the change — ``soc' = soc*s + delta``;
* ``"left"``: the change first, then losses — ``soc' = (soc + delta)*s`` (FlexMeasures'
  ``apply_stock_changes_and_losses(how="left")``);
* ``"linear"``: the change spread evenly over the step with continuous decay —
  ``soc' = soc*s + delta*(s - 1)/ln(s)``.

All three are linear: ``soc' = s*soc + kappa*delta`` with ``kappa`` from :func:`loss_factor`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def loss_factor(storage_efficiency: float, how: str = "right") -> float:
    """``kappa`` in ``soc' = s*soc + kappa*delta`` for the given loss timing."""
    s = storage_efficiency
    if how not in ("right", "left", "linear"):
        raise ValueError(f"unknown loss timing {how!r}")
    if s == 1.0 or how == "right":
        return 1.0
    if how == "left":
        return s
    return (s - 1.0) / math.log(s)


def soc_path(
    soc_at_start_kwh: float,
    deltas_kwh: Sequence[float] | np.ndarray,
    storage_efficiency: float | Sequence[float] = 1.0,
    how: str = "right",
) -> np.ndarray:
    """SoC at each instant (length ``len(deltas) + 1``, kWh) from per-step energy changes.

    >>> soc_path(1000, [100, -100, -100, 100], 0.99, how="left").round(6).tolist()
    [1000.0, 1089.0, 979.11, 870.3189, 960.615711]
    """
    deltas = np.asarray(deltas_kwh, dtype=float)
    eff = np.broadcast_to(np.asarray(storage_efficiency, dtype=float), deltas.shape)
    out = np.empty(len(deltas) + 1)
    out[0] = soc_at_start_kwh
    for k, (delta, s) in enumerate(zip(deltas, eff, strict=True)):
        out[k + 1] = s * out[k] + loss_factor(float(s), how) * delta
    return out


def energy_deltas_kwh(
    power_kw: np.ndarray, hours: float, charging_efficiency: float, discharging_efficiency: float
) -> np.ndarray:
    """Stored energy change per step from consumption-positive power (kW) and conversion efficiencies."""
    power = np.asarray(power_kw, dtype=float)
    return np.where(power > 0, power * hours * charging_efficiency, power * hours / discharging_efficiency)


def relax_to_reachable(
    soc_at_start: np.ndarray,
    retain: np.ndarray,
    delta_min: np.ndarray,
    delta_max: np.ndarray,
    soc_min: np.ndarray,
    soc_max: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Widen hard SoC bounds just enough that each device alone has a feasible SoC path.

    Vectorised over devices (rows). ``retain`` (D,) is the storage efficiency; ``delta_min``,
    ``delta_max`` (D, n) bound the stored energy change per step (kWh, loss factor applied);
    ``soc_min``, ``soc_max`` (D, n+1) are the bounds per instant. Walks the reachable interval
    forward; where it misses the bounds, the bound moves to the nearest reachable SoC.
    """
    low, high = soc_min.copy(), soc_max.copy()
    a = b = soc_at_start.astype(float)
    for k in range(delta_min.shape[1]):
        na = retain * a + delta_min[:, k]
        nb = retain * b + delta_max[:, k]
        low[:, k + 1] = np.minimum(low[:, k + 1], nb)
        high[:, k + 1] = np.maximum(high[:, k + 1], na)
        a = np.maximum(na, low[:, k + 1])
        b = np.minimum(nb, high[:, k + 1])
    return low, high
