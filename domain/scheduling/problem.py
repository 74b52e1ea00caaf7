"""The scheduling problem in explicit units on a UTC step grid, and how to build it.

Conventions used by every array here:

* The grid starts at ``start`` (UTC). Step ``i`` (``0 <= i < n_steps``) covers
  ``[start + i*resolution, start + (i+1)*resolution)``: per-step arrays have length ``n_steps``.
  Instant ``k`` is ``start + k*resolution`` (``0 <= k <= n_steps``): per-instant arrays (state
  of charge) have length ``n_steps + 1``; instant 0 is the start, where the SoC is known.
* Power in kW is the mean power over a step. Consumption is positive, production negative
  (USEF). Energy in kWh; prices in EUR/MWh; capacities are non-negative kW magnitudes.
* NaN in a soft-constraint array means "no constraint at this instant".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

import numpy as np

from domain.scheduling.errors import INSUFFICIENT_DATA, INVALID_DATETIME, INVALID_VALUE, FlexModelError
from domain.scheduling.flex_model import DeviceFlexModel, FlexContext, parse_flex_context, parse_flex_model
from domain.scheduling.quantities import SensorResolver, Varying
from domain.scheduling.timeseries import Grid, TimeSeries, instants_from_segments, resample, steps_from_segments

LossTiming = Literal["right", "left", "linear"]
DEFAULT_BREACH_PRICE_EUR_PER_KWH = 100.0
"""Penalty per kWh of an unmet soft constraint: far above any energy price (4 EUR/kWh caps)."""


@dataclass(frozen=True, eq=False)
class DeviceProblem:
    """One flexible device (battery, EV ...) on the problem grid.

    power_min_kw, power_max_kw: per step (n_steps,), kW; ``power_min_kw <= p <= power_max_kw``
        with ``p`` consumption-positive. ``power_min_kw = -production capacity``.
    soc_at_start_kwh: SoC at instant 0.
    soc_min_kwh, soc_max_kwh: per instant (n_steps + 1,), kWh; hard physical limits (soc-min /
        soc-max). Where they cannot be reached from ``soc_at_start_kwh`` they are relaxed to the
        reachable range and the breach is reported.
    soc_minima_kwh, soc_maxima_kwh, soc_targets_kwh: per instant (n_steps + 1,), kWh, NaN = none.
        Soft: breached only when unreachable, at ``breach_price_eur_per_kwh`` of the problem.
    charging_efficiency, discharging_efficiency: fractions; a step's SoC change is
        ``charge_kw*h*eta_c - discharge_kw*h/eta_d``.
    storage_efficiency: fraction of the SoC retained per step (see :func:`storage.soc_path`).
    charging_modes_kw: allowed charging power levels (> 0, kW); empty = continuous. Idle (0 kW)
        is always allowed.
    min_charging_power_kw: when charging, at least this power (0 = no minimum). With
        ``no_pauses`` the last step of the block may deliver less (see :mod:`.fleet_model`).
    no_pauses: charging happens in one contiguous block of steps, at least
        ``min_charging_power_kw`` (default: :func:`default_min_charging_power_kw`) but in the last.
    start_at_arrival: the block starts at the first step the device can charge (no delay).
    """

    device_id: str
    power_min_kw: np.ndarray
    power_max_kw: np.ndarray
    soc_at_start_kwh: float
    soc_min_kwh: np.ndarray
    soc_max_kwh: np.ndarray
    soc_minima_kwh: np.ndarray
    soc_maxima_kwh: np.ndarray
    soc_targets_kwh: np.ndarray
    charging_efficiency: float = 1.0
    discharging_efficiency: float = 1.0
    storage_efficiency: float = 1.0
    prefer_charging_sooner: bool = True
    charging_modes_kw: tuple[float, ...] = ()
    min_charging_power_kw: float = 0.0
    no_pauses: bool = False
    start_at_arrival: bool = False

    @property
    def needs_binaries(self) -> bool:
        return bool(self.charging_modes_kw) or self.min_charging_power_kw > 0 or self.no_pauses


@dataclass(frozen=True, eq=False)
class SchedulingProblem:
    """A site's scheduling problem: all devices share the site connection.

    start: UTC; resolution: step length; n_steps: number of steps.
    consumption_price_eur_per_mwh, production_price_eur_per_mwh: per step (n_steps,). The site
        pays the consumption price for net consumption and earns the production price for net
        production (cost = price * energy, production negative).
    site_consumption_capacity_kw, site_production_capacity_kw: per step (n_steps,), kW
        magnitudes, ``inf`` = unlimited: ``-production <= site power <= consumption``.
    inflexible_kw: per step (n_steps,), summed inflexible load, consumption positive.
    loss_timing: when storage losses apply within a step (see :func:`storage.soc_path`).
    """

    start: datetime
    resolution: timedelta
    n_steps: int
    devices: tuple[DeviceProblem, ...]
    consumption_price_eur_per_mwh: np.ndarray
    production_price_eur_per_mwh: np.ndarray
    site_consumption_capacity_kw: np.ndarray
    site_production_capacity_kw: np.ndarray
    inflexible_kw: np.ndarray
    breach_price_eur_per_kwh: float = DEFAULT_BREACH_PRICE_EUR_PER_KWH
    loss_timing: LossTiming = "right"
    grid: Grid = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "grid", Grid(self.start, self.resolution, self.n_steps))
        object.__setattr__(self, "start", self.grid.start)
        n = self.n_steps
        for name in ("consumption_price_eur_per_mwh", "production_price_eur_per_mwh", "inflexible_kw"):
            _check_shape(getattr(self, name), (n,), name)
        for name in ("site_consumption_capacity_kw", "site_production_capacity_kw"):
            _check_shape(getattr(self, name), (n,), name)
        for d in self.devices:
            for name in ("power_min_kw", "power_max_kw"):
                _check_shape(getattr(d, name), (n,), f"{d.device_id}.{name}")
            for name in ("soc_min_kwh", "soc_max_kwh", "soc_minima_kwh", "soc_maxima_kwh", "soc_targets_kwh"):
                _check_shape(getattr(d, name), (n + 1,), f"{d.device_id}.{name}")

    @property
    def hours(self) -> float:
        """Step length in hours."""
        return self.grid.hours

    def step_starts(self) -> list[datetime]:
        return [self.grid.instant(i) for i in range(self.n_steps)]


def _check_shape(array: np.ndarray, shape: tuple[int, ...], name: str) -> None:
    if np.shape(array) != shape:
        raise ValueError(f"{name} has shape {np.shape(array)}, expected {shape}")


def on_grid(value: Varying | None, grid: Grid, default: float = np.nan) -> np.ndarray:
    """A scalar, segments or series as a per-step array; uncovered steps get ``default``."""
    if value is None:
        return np.full(grid.n_steps, default)
    if isinstance(value, TimeSeries):
        out = resample(value, grid)
        return np.where(np.isnan(out), default, out)
    if isinstance(value, tuple):
        return steps_from_segments(value, grid, default)
    return np.full(grid.n_steps, float(value))


def _capacity(value: Varying | None, fallback: np.ndarray, grid: Grid) -> np.ndarray:
    out = on_grid(value, grid)
    return np.where(np.isnan(out), fallback, out)


NOMINAL_VOLTAGE_V = 230.0
MIN_CURRENT_A = 6.0
"""IEC 61851: the lowest charging current an EVSE may signal is 6 A per phase."""
SINGLE_PHASE_MAX_KW = 7.4
"""Above this charging capacity (32 A x 230 V) a charger is taken to be three-phase."""


def default_min_charging_power_kw(top_kw: float) -> float:
    """The minimum power of no-pauses charging when the flex-model gives none (kW): 6 A per phase
    at 230 V — 1.38 kW single-phase, 4.14 kW three-phase (capacity above 7.4 kW) — capped at ``top_kw``."""
    phases = 3 if top_kw > SINGLE_PHASE_MAX_KW + 1e-9 else 1
    return min(phases * MIN_CURRENT_A * NOMINAL_VOLTAGE_V / 1e3, top_kw)


def device_problem(model: DeviceFlexModel, grid: Grid) -> DeviceProblem:
    """Put one parsed device on the grid (capacities fall back to power-capacity, then 0 kW)."""
    power = on_grid(model.power_capacity_kw, grid, default=0.0)
    consumption = _capacity(model.consumption_capacity_kw, power, grid)
    production = _capacity(model.production_capacity_kw, power, grid)
    n1 = grid.n_steps + 1
    modes = tuple(m for m in model.charging_modes_kw if m > 0)
    if model.charging_modes_kw and model.min_charging_power_kw > 0:
        modes = tuple(m for m in modes if m >= model.min_charging_power_kw)
    minimum = model.min_charging_power_kw
    if model.no_pauses and minimum <= 0 and not modes:
        minimum = default_min_charging_power_kw(float(consumption.max(initial=0.0)))
    return DeviceProblem(
        device_id=model.device_id,
        power_min_kw=-production,
        power_max_kw=consumption,
        soc_at_start_kwh=model.soc_at_start_kwh,
        soc_min_kwh=np.full(n1, model.soc_min_kwh),
        soc_max_kwh=np.full(n1, model.soc_max_kwh),
        soc_minima_kwh=instants_from_segments(model.soc_minima_kwh, grid),
        soc_maxima_kwh=instants_from_segments(model.soc_maxima_kwh, grid),
        soc_targets_kwh=instants_from_segments(model.soc_targets_kwh, grid),
        charging_efficiency=model.charging_efficiency,
        discharging_efficiency=model.discharging_efficiency,
        storage_efficiency=model.storage_efficiency,
        prefer_charging_sooner=model.prefer_charging_sooner,
        charging_modes_kw=modes,
        min_charging_power_kw=minimum,
        no_pauses=model.no_pauses,
        start_at_arrival=model.start_at_arrival,
    )


def _price(value: Varying, grid: Grid, name: str) -> np.ndarray:
    out = on_grid(value, grid)
    if np.isnan(out).any():
        first = grid.instant(int(np.argmax(np.isnan(out))))
        raise FlexModelError(
            f"flex-context.{name}", INSUFFICIENT_DATA, f"no price for the step starting {first.isoformat()}"
        )
    return out


def build_problem(
    devices: Sequence[DeviceFlexModel],
    context: FlexContext,
    *,
    start: datetime,
    end: datetime,
    resolution: timedelta,
    breach_price_eur_per_kwh: float = DEFAULT_BREACH_PRICE_EUR_PER_KWH,
    loss_timing: LossTiming = "right",
) -> SchedulingProblem:
    """Combine parsed devices and context into a :class:`SchedulingProblem` over ``[start, end)``.

    ``start``/``end`` are aware datetimes (any zone; the grid is UTC, so a DST day in
    Europe/Amsterdam has 92 or 100 quarter-hours). Prices at a coarser resolution are
    upsampled (time-weighted means when finer); they must cover the horizon. Inflexible
    series are summed, with missing values counted as 0 kW.
    """
    for name, moment in (("start", start), ("end", end)):
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise FlexModelError(name, INVALID_DATETIME, f"{name} must be timezone-aware")
    try:
        grid = Grid.between(start, end, resolution)
    except ValueError as exc:
        raise FlexModelError("end", INVALID_VALUE, str(exc)) from exc
    inflexible = np.zeros(grid.n_steps)
    for series in context.inflexible_kw:
        inflexible += np.nan_to_num(resample(series, grid))
    return SchedulingProblem(
        start=grid.start,
        resolution=resolution,
        n_steps=grid.n_steps,
        devices=tuple(device_problem(d, grid) for d in devices),
        consumption_price_eur_per_mwh=_price(context.consumption_price, grid, "consumption-price"),
        production_price_eur_per_mwh=_price(context.production_price, grid, "production-price"),
        site_consumption_capacity_kw=on_grid(context.site_consumption_capacity_kw, grid, default=math.inf),
        site_production_capacity_kw=on_grid(context.site_production_capacity_kw, grid, default=math.inf),
        inflexible_kw=inflexible,
        breach_price_eur_per_kwh=breach_price_eur_per_kwh,
        loss_timing=loss_timing,
    )


def problem_from_flex(
    flex_model: object,
    flex_context: object,
    *,
    start: datetime,
    end: datetime,
    resolution: timedelta,
    resolve_sensor: SensorResolver | None = None,
    asset_types: Mapping[int | str, str] | None = None,
    **options: object,
) -> SchedulingProblem:
    """Parse FlexMeasures-style dicts and build the problem in one call (see :func:`build_problem`);
    ``asset_types`` maps a device's sensor to its asset type (a one-way EVSE never discharges)."""
    devices = parse_flex_model(flex_model, resolve_sensor, asset_types)
    context = parse_flex_context(flex_context, resolve_sensor)
    return build_problem(devices, context, start=start, end=end, resolution=resolution, **options)  # type: ignore[arg-type]
