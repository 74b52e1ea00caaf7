"""Bookkeeping of the fleet solver (:mod:`.fleet`): the generated columns and the wall clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import numpy as np

from domain.scheduling.fleet_lp import Master
from domain.scheduling.fleet_pricing import Column

T = TypeVar("T")


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
        """Per EV, the column to take when the master LP has no solution (the site-feasible start)."""

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


class Deadline:
    """The wall clock of one solve: ``left(share)`` is what remains of ``share`` of the limit (s);
    ``solver_s`` sums the time spent in the calls made through :meth:`timed`."""

    def __init__(self, limit_s: float) -> None:
        self.start = time.perf_counter()
        self.limit_s = limit_s
        self.solver_s = 0.0
        self.reached = False
        """The limit cut something short (a solver stopped at it, or a step was skipped)."""

    def left(self, share: float = 1.0) -> float:
        return self.limit_s * share - (time.perf_counter() - self.start)

    def timed(self, fn: Callable[..., T], *args) -> T:
        t0 = time.perf_counter()
        out = fn(*args)
        self.solver_s += time.perf_counter() - t0
        return out
