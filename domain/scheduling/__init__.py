"""Pure scheduling core: flex-model/flex-context in, site schedule out (no I/O).

Typical use by the scheduler processor::

    problem = problem_from_flex(flex_model, flex_context, start=..., end=..., resolution=...,
                                resolve_sensor=lookup)       # raises FlexModelError (ValueError)
    result = solve(problem, time_limit_s=10, relative_gap=1e-4)  # raises ScheduleError

Units: power kW (consumption positive, production negative), energy kWh, prices EUR/MWh,
times timezone-aware (UTC inside).

Modules: :mod:`.flex_model` (+ :mod:`.quantities`) parse the dicts; :mod:`.problem` builds the
:class:`SchedulingProblem` on a UTC grid (:mod:`.timeseries`); :mod:`.milp` solves it —
:mod:`.layout`, :mod:`.formulation`, :mod:`.cumulative` build the LP core as numpy arrays
(:mod:`.lp_arrays`; :mod:`.highs_model` loads them into HiGHS in one sparse call, OR-Tools for
SCIP), :mod:`.charging`, :mod:`.signs`
add binaries where needed, :mod:`.greedy` commits binary decisions so an LP always yields a
schedule; :mod:`.result` reports cost and unmet constraints; :mod:`.storage` has the SoC math.
Fleets of EVs with no pauses are solved by column generation instead (:mod:`.fleet`). Every
HiGHS call of a solve runs under one wall-clock deadline (:mod:`.deadline`).
"""

from domain.scheduling.errors import FlexModelError, ScheduleError
from domain.scheduling.flex_model import (
    DeviceFlexModel,
    FlexContext,
    parse_device,
    parse_flex_context,
    parse_flex_model,
    soc_capacity_kwh,
)
from domain.scheduling.lp_arrays import SOLVER_BACKENDS
from domain.scheduling.milp import solve
from domain.scheduling.problem import (
    DeviceProblem,
    SchedulingProblem,
    build_problem,
    device_problem,
    problem_from_flex,
)
from domain.scheduling.quantities import SensorResolver
from domain.scheduling.result import DeviceSchedule, ScheduleResult, UnmetConstraint, energy_cost_eur
from domain.scheduling.storage import energy_deltas_kwh, loss_factor, soc_path
from domain.scheduling.timeseries import Grid, Segment, TimeSeries

__all__ = [
    "DeviceFlexModel",
    "DeviceProblem",
    "DeviceSchedule",
    "FlexContext",
    "FlexModelError",
    "Grid",
    "ScheduleError",
    "ScheduleResult",
    "SOLVER_BACKENDS",
    "SchedulingProblem",
    "Segment",
    "SensorResolver",
    "TimeSeries",
    "UnmetConstraint",
    "build_problem",
    "device_problem",
    "energy_cost_eur",
    "energy_deltas_kwh",
    "loss_factor",
    "parse_device",
    "parse_flex_context",
    "parse_flex_model",
    "problem_from_flex",
    "soc_capacity_kwh",
    "soc_path",
    "solve",
]
