"""Operator schedule overrides (MyEMS' ``energystoragecontainers/{id}/schedules`` and
``microgrids/{id}/schedules``, issue 14): time-of-day windows in which the operator fixes the power
of the storage devices below a container or microgrid. No I/O.

An override is MyEMS' row ``{"id", "start_time_of_day", "end_time_of_day", "peak_type", "power"}``:

* ``start_time_of_day`` / ``end_time_of_day``: ``"HH:MM:SS"``, local time of day in the zone of each
  device's power sensor; the window is ``[start, end)`` every day (MyEMS' own report walks it the
  same way); a window that ends at or before its start runs past midnight (flexledger's reading).
* ``peak_type``: MyEMS' label of the window (``toppeak``, ``onpeak``, ``midpeak``, ``offpeak``,
  ``deep``); it does not change what the override does.
* ``power``: kW, USEF signs: charging (consumption) positive, discharging (production) negative,
  ``0`` idle. flexledger also takes ``command`` (``charge``, ``discharge``, ``idle``) with a power
  magnitude, stored as the signed power.

In a window the owner's storage devices are held at the override's power (:func:`fixed_power_kw`
splits it over them in proportion to their power capacity in that direction, clipped to it), and
:func:`constrain` narrows each device's per-step bounds of the scheduling problem to that value.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from pydantic import BaseModel, ConfigDict

from domain.scheduling.problem import SchedulingProblem

PEAK_TYPES = ("toppeak", "onpeak", "midpeak", "offpeak", "deep")
COMMANDS = ("charge", "discharge", "idle")
MAX_OVERRIDES = 96
"""Overrides per container or microgrid (bounds the list kept on the asset)."""
MAX_POWER_KW = 1e6
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d):([0-5]\d)$")
STORAGE_ASSET_TYPES = frozenset({"battery"})
"""The device asset types an owner's override holds (its batteries)."""


class OverrideError(ValueError):
    """Bad override input: ``code`` (MyEMS' ``API.INVALID_...``), ``field`` names the body field."""

    def __init__(self, code: str, message: str, field: str):
        super().__init__(message)
        self.code, self.message, self.field = code, message, field


class ScheduleOverride(BaseModel):
    """One override as stored on its owner asset (``attributes.myems.schedules``); ``power`` in kW,
    charging positive, discharging negative, 0 idle."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: int
    start_time_of_day: str
    end_time_of_day: str
    peak_type: str
    power: float

    def seconds(self) -> tuple[int, int]:
        """Start and end of the window in seconds after local midnight."""
        return _seconds(self.start_time_of_day), _seconds(self.end_time_of_day)

    def covers(self, second_of_day: np.ndarray) -> np.ndarray:
        """Which local seconds of day fall in ``[start, end)`` (past midnight when end <= start)."""
        start, end = self.seconds()
        if end > start:
            return (second_of_day >= start) & (second_of_day < end)
        return (second_of_day >= start) | (second_of_day < end)

    def overlaps(self, other: ScheduleOverride) -> bool:
        minutes = np.arange(0, 86400, 60)
        return bool(np.any(self.covers(minutes) & other.covers(minutes)))


def owner_overrides(attributes: Mapping[str, object] | None) -> list[ScheduleOverride]:
    """The overrides kept on an owner asset's attributes (``myems.schedules``; none when absent)."""
    myems = (attributes or {}).get("myems") or {}
    rows = myems.get("schedules") if isinstance(myems, dict) else None
    return [ScheduleOverride.model_validate(row) for row in rows or []]


def _seconds(text: str) -> int:
    h, m, s = (int(part) for part in text.split(":"))
    return h * 3600 + m * 60 + s


def _time_of_day(data: Mapping[str, object], field: str) -> str:
    value = data.get(field)
    if isinstance(value, str) and len(value.strip()) == 7:
        value = "0" + value.strip()  # MyEMS writes 7:00:00 as well as 07:00:00
    if not isinstance(value, str) or not _TIME.match(value.strip()):
        code = "API.INVALID_START_TIME_OF_DAY" if field == "start_time_of_day" else "API.INVALID_END_TIME_OF_DAY"
        raise OverrideError(code, f"{field}: HH:MM:SS", field)
    return value.strip()


def _power_kw(data: Mapping[str, object]) -> float:
    value, command = data.get("power"), data.get("command")
    if command is not None and command not in COMMANDS:
        raise OverrideError("API.INVALID_COMMAND", f"command: one of {', '.join(COMMANDS)}", "command")
    if command == "idle" and value is None:
        value = 0
    if isinstance(value, bool) or not isinstance(value, int | float) or not abs(value) <= MAX_POWER_KW:
        raise OverrideError("API.INVALID_POWER", f"power: a number of kW, at most {MAX_POWER_KW:g}", "power")
    if command is None:
        return float(value)
    if value < 0:
        raise OverrideError("API.INVALID_POWER", "power: a magnitude (kW) when command is given", "power")
    return {"charge": float(value), "discharge": -float(value), "idle": 0.0}[command]


def parse_override(data: Mapping[str, object], override_id: int) -> ScheduleOverride:
    """MyEMS' body (``{"start_time_of_day", "end_time_of_day", "peak_type", "power"}``, optional
    ``command``) as an override; raises :class:`OverrideError` naming the field."""
    start, end = _time_of_day(data, "start_time_of_day"), _time_of_day(data, "end_time_of_day")
    if start == end:
        raise OverrideError("API.INVALID_END_TIME_OF_DAY", "end_time_of_day: differs from the start", "end_time_of_day")
    peak_type = data.get("peak_type")
    if peak_type not in PEAK_TYPES:
        raise OverrideError("API.INVALID_PEAK_TYPE", f"peak_type: one of {', '.join(PEAK_TYPES)}", "peak_type")
    return ScheduleOverride(
        id=override_id, start_time_of_day=start, end_time_of_day=end, peak_type=str(peak_type), power=_power_kw(data)
    )


def check_no_overlap(override: ScheduleOverride, others: Sequence[ScheduleOverride]) -> None:
    """Two overrides of one owner may not share a moment of the day (the power would be ambiguous)."""
    for other in others:
        if other.id != override.id and override.overlaps(other):
            raise OverrideError(
                "API.SCHEDULE_OVERLAPS", f"the window overlaps schedule {other.id}", "start_time_of_day"
            )


def local_seconds(start: datetime, resolution: timedelta, n_steps: int, timezone: str) -> np.ndarray:
    """The local second of day at which each step of the UTC grid starts, in ``timezone``."""
    zone = ZoneInfo(timezone)
    starts = (start + i * resolution for i in range(n_steps))
    return np.array([(t.astimezone(zone) - t.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0))
                     .total_seconds() for t in starts])  # fmt: skip


def fixed_power_kw(
    overrides: Sequence[ScheduleOverride], seconds: Mapping[str, np.ndarray], problem: SchedulingProblem
) -> dict[str, np.ndarray]:
    """Per device id of one owner: the power (kW, consumption positive) its overrides fix at each step
    (NaN where none applies). ``seconds[device]``: the local second of day of each step start.

    A charge of P kW is shared by the devices in the window in proportion to their consumption
    capacity at that step, a discharge by their production capacity, each clipped to its capacity."""
    bounds = {d.device_id: (d.power_min_kw, d.power_max_kw) for d in problem.devices if d.device_id in seconds}
    fixed = {device: np.full(problem.n_steps, np.nan) for device in bounds}
    for override in overrides:
        active = {device: override.covers(seconds[device]) for device in bounds}
        if override.power >= 0:
            room = {d: np.where(active[d], np.maximum(bounds[d][1], 0.0), 0.0) for d in bounds}
        else:
            room = {d: np.where(active[d], np.maximum(-bounds[d][0], 0.0), 0.0) for d in bounds}
        total = sum(room.values(), np.zeros(problem.n_steps))
        for device in bounds:
            share = np.divide(room[device], total, out=np.zeros(problem.n_steps), where=total > 0)
            wanted = np.clip(override.power * share, *bounds[device])
            fixed[device] = np.where(active[device], np.where(total > 0, wanted, 0.0), fixed[device])
    return fixed


def constrain(problem: SchedulingProblem, fixed_kw: Mapping[str, np.ndarray]) -> SchedulingProblem:
    """The problem with each named device's power bounds narrowed to ``fixed_kw`` (kW, consumption
    positive) where it is not NaN, clipped to the device's own bounds; unchanged elsewhere."""
    if not fixed_kw:
        return problem
    devices = []
    for device in problem.devices:
        fixed = fixed_kw.get(device.device_id)
        if fixed is None or np.all(np.isnan(fixed)):
            devices.append(device)
            continue
        value = np.clip(np.nan_to_num(fixed, nan=0.0), device.power_min_kw, device.power_max_kw)
        held = ~np.isnan(fixed)
        devices.append(dataclasses.replace(
            device, power_min_kw=np.where(held, value, device.power_min_kw),
            power_max_kw=np.where(held, value, device.power_max_kw),
        ))  # fmt: skip
    return dataclasses.replace(problem, devices=tuple(devices))
