"""Bookkeeping of the fleet solver (:mod:`.fleet`): the generated columns (its wall clock is a
:class:`.deadline.Deadline`)."""

from __future__ import annotations

import numpy as np

from domain.scheduling.fleet_lp import Master
from domain.scheduling.fleet_pricing import Column


class Pool:
    """Generated columns, mirrored into the master LP: profiles (K, n) kW, owner EV (K,), cost (K,)
    milli-EUR (tie-break and penalty: the energy is priced by the master's site columns)."""

    def __init__(self, master: Master) -> None:
        self.master = master
        self.rows: list[np.ndarray] = []
        self.owner: list[int] = []
        self.costs: list[float] = []
        self._pending = 0
        self._dense: np.ndarray | None = None
        self.fallback: dict[int, int] = {}
        """Per EV, the column to take when the master LP has no solution (its start column)."""
        self.starts: list[np.ndarray] = []
        """Site-feasible starts (greedy, :func:`.fleet_start.greedy_columns`): each a column per EV (E,)."""

    def add(self, ev: int, column: Column) -> None:
        self.rows.append(column.power_kw)
        self.owner.append(ev)
        self.costs.append(column.cost)
        self._pending += 1

    def flush(self) -> None:
        """Send the columns added since the last flush to the master."""
        if self._pending:
            new = slice(len(self.costs) - self._pending, len(self.costs))
            self.master.add(np.vstack(self.rows[new]), np.asarray(self.owner[new]), np.asarray(self.costs[new]))
            self._pending = 0

    def dense(self) -> np.ndarray:
        """Every profile (K, n) kW."""
        if self._dense is None or len(self._dense) != len(self.rows):
            self._dense = np.vstack(self.rows)
        return self._dense
