"""Operator overrides in the scheduler (issue 14): the MyEMS ``.../schedules`` of a storage
container or microgrid (:mod:`domain.schedule_overrides`) as constraints of the problem.

The overrides are kept on their owner asset (``attributes.myems.schedules``, changed by registry
events), so the scheduler reads them from the registry as of the trigger, like the flex-models.
A scheduled device is held when its asset is a battery (:data:`~domain.schedule_overrides.
STORAGE_ASSET_TYPES`) whose parent asset carries overrides; the windows are read in the time zone
of the device's power sensor. Powers in kW, consumption (charging) positive.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from domain import schedule_overrides as so
from domain.ports.registry import RegistryView
from domain.scheduling.problem import SchedulingProblem


def with_overrides(problem: SchedulingProblem, registry: RegistryView) -> tuple[SchedulingProblem, list[str]]:
    """The problem with the operator overrides of its devices' owners applied, and notes saying which."""
    by_owner: dict[int, dict[str, np.ndarray]] = defaultdict(dict)
    for device in problem.devices:
        if not device.device_id.isdigit():
            continue
        sensor = registry.sensor(int(device.device_id))
        asset = registry.asset(sensor.asset_id) if sensor is not None else None
        if asset is None or asset.asset_type not in so.STORAGE_ASSET_TYPES or asset.parent_asset_id is None:
            continue
        seconds = so.local_seconds(problem.start, problem.resolution, problem.n_steps, sensor.timezone or "UTC")
        by_owner[asset.parent_asset_id][device.device_id] = seconds
    fixed: dict[str, np.ndarray] = {}
    notes = []
    for owner_id, seconds in sorted(by_owner.items()):
        owner = registry.asset(owner_id)
        overrides = so.owner_overrides(owner.attributes) if owner is not None else []
        if not overrides:
            continue
        fixed.update(so.fixed_power_kw(overrides, seconds, problem))
        windows = ", ".join(f"{o.start_time_of_day}-{o.end_time_of_day} {o.power:g} kW" for o in overrides)
        notes.append(f"Operator schedules of asset {owner_id} hold sensor(s) {', '.join(sorted(seconds))}: {windows}.")
    return so.constrain(problem, fixed), notes
