"""Models straight into HiGHS (highspy): one sparse call, a time limit, the incumbent kept.

Used by the fleet solver (:mod:`.fleet_lp`) and, for the ``highs`` backend, by the per-step model
(:mod:`.milp`). Going through OR-Tools' model builder instead costs seconds on large models
(proto conversion outside the solver's time limit) and OR-Tools drops HiGHS' incumbent when a
MIP stops at its time limit; here neither happens, and the bound HiGHS proved is reported.
"""

from __future__ import annotations

import time

import highspy
import numpy as np
import scipy.sparse as sp

from domain.scheduling.deadline import MIN_TIME_S, Deadline
from domain.scheduling.lp_arrays import ModelArrays, SolveOutcome

_FEASIBLE = 2
"""HiGHS' ``primal_solution_status`` of a feasible point."""
_INFEASIBLE = {
    highspy.HighsModelStatus.kInfeasible: "infeasible",
    highspy.HighsModelStatus.kUnboundedOrInfeasible: "infeasible",
    highspy.HighsModelStatus.kUnbounded: "unbounded",
}


def quiet_highs(time_s: float) -> highspy.Highs:
    """A HiGHS instance without log output, limited to ``time_s`` seconds."""
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", max(time_s, MIN_TIME_S))
    return h


def load(h: highspy.Highs, c, lb, ub, matrix: sp.spmatrix, row_lo, row_hi, integer: np.ndarray | None = None) -> None:
    """Pass ``min c.x, lb <= x <= ub, row_lo <= A x <= row_hi`` (``integer``: column indices)."""
    a = sp.csc_matrix(matrix)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = a.shape[1], a.shape[0]
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = np.asarray(c, float), np.asarray(lb, float), np.asarray(ub, float)
    lp.row_lower_, lp.row_upper_ = np.asarray(row_lo, float), np.asarray(row_hi, float)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = a.indptr, a.indices, a.data
    h.passModel(lp)
    if integer is not None and len(integer):
        idx = np.asarray(integer, dtype=np.int32)
        h.changeColsIntegrality(len(idx), idx, np.full(len(idx), highspy.HighsVarType.kInteger))


def solve_loaded(
    h: highspy.Highs, time_limit_s: float, relative_gap: float, is_mip: bool,
    deadline: Deadline | None = None, stage: str = "solve",
) -> SolveOutcome:  # fmt: skip
    """Run a loaded model for at most ``time_limit_s`` (HiGHS' own limit: its presolve may overrun
    it); the incumbent is kept when the limit hits (status ``feasible``), with the bound HiGHS
    proved (for an LP solved to optimality: its objective). With a ``deadline``, the limit is cut
    to its hard end and HiGHS is not waited for past it (:meth:`.deadline.Deadline.run`, recorded
    as ``stage``): an abandoned run gives status ``abandoned`` and no solution."""
    h.setOptionValue("mip_rel_gap", relative_gap)
    started = time.perf_counter()
    if deadline is None:
        h.setOptionValue("time_limit", max(time_limit_s, MIN_TIME_S))
        h.run()
    elif not deadline.run(stage, h, time_limit_s):
        return SolveOutcome("abandoned", None, float("nan"), time.perf_counter() - started, time_limit_reached=True)
    elapsed = time.perf_counter() - started
    status = h.getModelStatus()
    info = h.getInfo()
    reached = status in (highspy.HighsModelStatus.kTimeLimit, highspy.HighsModelStatus.kInterrupt)
    if status in _INFEASIBLE:
        return SolveOutcome(_INFEASIBLE[status], None, float("nan"), elapsed, time_limit_reached=reached)
    if status != highspy.HighsModelStatus.kOptimal and info.primal_solution_status != _FEASIBLE:
        return SolveOutcome(status.name.lstrip("k").lower(), None, float("nan"), elapsed, time_limit_reached=reached)
    objective = float(info.objective_function_value)
    bound = float(info.mip_dual_bound) if is_mip else (objective if status == highspy.HighsModelStatus.kOptimal else
                                                       float("nan"))  # fmt: skip
    values = np.asarray(h.getSolution().col_value)
    return SolveOutcome("optimal" if status == highspy.HighsModelStatus.kOptimal else "feasible", values, objective,
                        elapsed, min(bound, objective), time_limit_reached=reached)  # fmt: skip


def load_arrays(arrays: ModelArrays, relax: bool = False) -> highspy.Highs:
    """A quiet HiGHS instance holding ``arrays``' model (``relax``: without integrality)."""
    h = quiet_highs(1.0)
    lb, ub, obj, lo, hi, matrix = arrays.sparse()
    load(h, obj, lb, ub, matrix, lo, hi, integer=None if relax else arrays.integer_columns())
    return h
