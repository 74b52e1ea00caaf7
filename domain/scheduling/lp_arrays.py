"""Assemble an LP/MILP as numpy arrays; solve it with SCIP through OR-Tools' native path.

Columns, rows and coefficient triplets are appended in vectorised blocks; :meth:`ModelArrays.sparse`
turns them into a CSR matrix. The ``highs`` backend loads that into HiGHS directly
(:mod:`.highs_model`); for ``scip``, :meth:`ModelArrays.to_helper` loads it in one call with
``ModelBuilderHelper.fill_model_from_sparse_data`` (no Python object per variable) and
:func:`run_solver` solves it with ``ModelSolverHelper(<backend>)``. CBC is not offered: OR-Tools'
model-builder path does not ship it (``ModelSolverHelper("cbc").solver_is_supported()`` is false).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from ortools.linear_solver.python import model_builder_helper as mbh

SOLVER_BACKENDS = ("highs", "scip")
"""MILP backends of OR-Tools' model builder that this build supports (HiGHS is the default)."""

_QUIET_WITH_GAP = {
    "highs": "output_flag=false\nmip_rel_gap={gap:g}",
    "scip": "display/verblevel = 0\nlimits/gap = {gap:g}",
}
"""Solver-specific parameters (each backend's own syntax): no log output, relative MIP gap."""

_STATUS = {
    mbh.SolveStatus.OPTIMAL: "optimal",
    mbh.SolveStatus.FEASIBLE: "feasible",
    mbh.SolveStatus.INFEASIBLE: "infeasible",
    mbh.SolveStatus.UNBOUNDED: "unbounded",
}


@dataclass(frozen=True, slots=True)
class SolveOutcome:
    status: str
    values: np.ndarray | None
    objective: float
    solve_time_s: float
    bound: float = float("nan")
    time_limit_reached: bool = False

    @property
    def has_solution(self) -> bool:
        return self.values is not None and self.status in ("optimal", "feasible")


class ModelArrays:
    """Columns (bounds, objective, integrality), rows (bounds) and sparse coefficients."""

    def __init__(self) -> None:
        self.n_cols = 0
        self.n_rows = 0
        self._lb: list[np.ndarray] = []
        self._ub: list[np.ndarray] = []
        self._obj: list[np.ndarray] = []
        self._integer: list[np.ndarray] = []
        self._lo: list[np.ndarray] = []
        self._hi: list[np.ndarray] = []
        self._terms: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._obj_extra: list[tuple[np.ndarray, np.ndarray]] = []
        self._ub_patch: list[tuple[np.ndarray, np.ndarray]] = []
        self._lb_patch: list[tuple[np.ndarray, np.ndarray]] = []

    def add_cols(
        self, count: int, lb: object = 0.0, ub: object = np.inf, obj: object = 0.0, integer: bool = False
    ) -> np.ndarray:
        """Append ``count`` columns; returns their indices."""
        idx = np.arange(self.n_cols, self.n_cols + count)
        self._lb.append(np.broadcast_to(np.asarray(lb, dtype=float), (count,)))
        self._ub.append(np.broadcast_to(np.asarray(ub, dtype=float), (count,)))
        self._obj.append(np.broadcast_to(np.asarray(obj, dtype=float), (count,)))
        if integer:
            self._integer.append(idx)
        self.n_cols += count
        return idx

    def add_rows(self, count: int, lo: object = -np.inf, hi: object = np.inf) -> np.ndarray:
        """Append ``count`` rows ``lo <= a.x <= hi``; returns their indices."""
        idx = np.arange(self.n_rows, self.n_rows + count)
        self._lo.append(np.broadcast_to(np.asarray(lo, dtype=float), (count,)))
        self._hi.append(np.broadcast_to(np.asarray(hi, dtype=float), (count,)))
        self.n_rows += count
        return idx

    def add_terms(self, rows: np.ndarray, cols: np.ndarray, vals: object) -> None:
        rows = np.asarray(rows).ravel()
        vals = np.broadcast_to(np.asarray(vals, dtype=float), rows.shape)
        self._terms.append((rows, np.asarray(cols).ravel(), vals.ravel()))

    def add_objective(self, cols: np.ndarray, coefs: object) -> None:
        cols = np.asarray(cols).ravel()
        self._obj_extra.append((cols, np.broadcast_to(np.asarray(coefs, dtype=float), cols.shape)))

    def set_upper(self, cols: np.ndarray, ub: object) -> None:
        cols = np.asarray(cols).ravel()
        self._ub_patch.append((cols, np.broadcast_to(np.asarray(ub, dtype=float), cols.shape)))

    def set_lower(self, cols: np.ndarray, lb: object) -> None:
        cols = np.asarray(cols).ravel()
        self._lb_patch.append((cols, np.broadcast_to(np.asarray(lb, dtype=float), cols.shape)))

    @property
    def n_integer(self) -> int:
        return int(sum(len(i) for i in self._integer))

    def _columns(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        lb, ub, obj = (np.concatenate(x) if x else np.zeros(0) for x in (self._lb, self._ub, self._obj))
        for cols, values in self._ub_patch:
            ub[cols] = values
        for cols, values in self._lb_patch:
            lb[cols] = values
        if self._obj_extra:
            obj = obj.copy()
            for cols, coefs in self._obj_extra:
                np.add.at(obj, cols, coefs)
        return lb, ub, obj

    def integer_columns(self) -> np.ndarray:
        return np.concatenate(self._integer) if self._integer else np.zeros(0, dtype=int)

    def sparse(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, sp.csr_matrix]:
        """(column lower, upper, objective, row lower, upper, coefficient matrix (rows x columns))."""
        lb, ub, obj = self._columns()
        lo = np.concatenate(self._lo) if self._lo else np.zeros(0)
        hi = np.concatenate(self._hi) if self._hi else np.zeros(0)
        if self._terms:
            rows, cols, vals = (np.concatenate(part) for part in zip(*self._terms, strict=True))
        else:
            rows = cols = np.zeros(0, dtype=int)
            vals = np.zeros(0)
        return lb, ub, obj, lo, hi, sp.csr_matrix((vals, (rows, cols)), shape=(self.n_rows, self.n_cols))

    def to_helper(self, relax: bool = False) -> mbh.ModelBuilderHelper:
        """The model loaded into an OR-Tools ``ModelBuilderHelper`` (one sparse-matrix call).

        ``relax`` drops integrality (the LP relaxation).
        """
        lb, ub, obj, lo, hi, matrix = self.sparse()
        helper = mbh.ModelBuilderHelper()
        helper.fill_model_from_sparse_data(lb, ub, obj, lo, hi, matrix)
        if not relax:
            for i in self.integer_columns().tolist():
                helper.set_var_integrality(i, True)
        return helper


def run_solver(
    helper: mbh.ModelBuilderHelper, time_limit_s: float, relative_gap: float, backend: str = "highs"
) -> SolveOutcome:
    """Solve with ``backend`` (quiet); MIP gap ``relative_gap``, wall-clock ``time_limit_s``."""
    if backend not in _QUIET_WITH_GAP:
        raise ValueError(f"unknown solver backend {backend!r}; choose one of {', '.join(SOLVER_BACKENDS)}")
    solver = mbh.ModelSolverHelper(backend)
    solver.set_solver_specific_parameters(_QUIET_WITH_GAP[backend].format(gap=relative_gap))
    solver.set_time_limit_in_seconds(max(time_limit_s, 0.01))
    started = time.perf_counter()
    solver.solve(helper)
    elapsed = time.perf_counter() - started
    status = _STATUS.get(solver.status(), solver.status().name.lower())
    values = solver.variable_values() if solver.has_solution() else None
    if values is not None and status not in ("optimal", "feasible"):
        status = "feasible"
    objective = solver.objective_value() if values is not None else float("nan")
    bound = solver.best_objective_bound() if values is not None else float("nan")
    if not np.isfinite(bound) and status == "optimal":
        bound = objective
    reached = status != "optimal" and elapsed >= time_limit_s  # OR-Tools does not say why it stopped
    return SolveOutcome(status, None if values is None else np.asarray(values), objective, elapsed, bound, reached)
