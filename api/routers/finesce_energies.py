"""FINESCE COS timeslots and regional energies (``/api/v2``), from the regional-energies projection.

* ``timeslots`` — every 15-minute slot (id: its start in Unix seconds) in which an EVSE of the
  caller's account with a region was metered; ``start``, ``duration_min`` 15.
* ``regionalenergies`` — per region and timeslot, over the region's EVSEs' metering sensors
  (kWh, consumption positive, production negative): ``actual_energy_kwh`` and
  ``aggregated_energy_kwh`` the net metered energy, ``generated_energy_kwh`` its production
  part (the negative slots), ``requested_energy_kwh`` its consumption part (the positive
  slots), ``forecasted_energy_kwh`` the forecaster's latest beliefs for the timeslot
  (:mod:`projections.regional_energies`).
* ``regionalaggevseenergies`` — the same rows as ``max_possible_kwh`` (the EVSEs' maximum power
  over the slot) and ``current_kwh_in_use`` (their metered energy).

Sub-resources as the seed names them, including its ``/times/{id}/evses`` (sic).
"""

from __future__ import annotations

from functools import partial

import sqlalchemy as sa
from fastapi import APIRouter

from api.finesce import Resource, dec, register_collection, register_related, ts_s, ts_us
from api.routers import finesce_cos as f
from projections.regional_energies import TIMESLOT_S, re_energies, re_meters, re_slots

router = APIRouter(prefix="/api/v2", tags=["FINESCE COS"])
_related = partial(register_related, router)
e = re_energies.c


def _times(row: dict) -> dict:
    return {"created_at": ts_us(row["created_at"]), "updated_at": ts_us(row["updated_at"])}


_COMMON = {
    "id": e.id,
    "region_id": e.region_id,
    "timeslot_id": e.timeslot_id,
    "created_at": e.created_us,
    "updated_at": e.updated_us,
}
REGIONAL_ENERGIES = Resource(
    "regionalenergies",
    re_energies,
    {
        **_COMMON,
        "generated_energy_kwh": e.generated_kwh,
        "aggregated_energy_kwh": e.actual_energy_kwh,
        "requested_energy_kwh": e.requested_kwh,
        "actual_energy_kwh": e.actual_energy_kwh,
        "forecasted_energy_kwh": e.forecasted_kwh,
    },
    e.account_id,
    lambda r: {
        "id": r["id"],
        "generated_energy_kwh": dec(r["generated_energy_kwh"]),
        "aggregated_energy_kwh": dec(r["aggregated_energy_kwh"]),
        "requested_energy_kwh": dec(r["requested_energy_kwh"]),
        "actual_energy_kwh": dec(r["actual_energy_kwh"]),
        "forecasted_energy_kwh": dec(r["forecasted_energy_kwh"]),
        "region_id": r["region_id"],
        "timeslot_id": r["timeslot_id"],
        **_times(r),
    },
)
AGG_EVSE_ENERGIES = Resource(
    "regionalaggevseenergies",
    re_energies,
    {**_COMMON, "max_possible_kwh": e.max_possible_kwh, "current_kwh_in_use": e.actual_energy_kwh},
    e.account_id,
    lambda r: {
        "id": r["id"],
        "max_possible_kwh": dec(r["max_possible_kwh"]),
        "current_kwh_in_use": dec(r["current_kwh_in_use"]),
        "region_id": r["region_id"],
        **_times(r),
    },
)
_slots = (
    sa.select(
        e.timeslot_id.label("id"),
        e.account_id.label("account_id"),
        sa.func.min(e.created_us).label("created_us"),
        sa.func.max(e.updated_us).label("updated_us"),
    )
    .group_by(e.timeslot_id, e.account_id)
    .subquery("timeslots")
)
TIMESLOTS = Resource(
    "timeslots",
    _slots,
    {"id": _slots.c.id, "start": _slots.c.id, "created_at": _slots.c.created_us, "updated_at": _slots.c.updated_us},
    _slots.c.account_id,
    lambda r: {"id": r["id"], "start": ts_s(r["id"]), "duration_min": TIMESLOT_S // 60, **_times(r)},
)


for _path, _resource in (
    ("regionalenergies", REGIONAL_ENERGIES),
    ("regionalaggevseenergies", AGG_EVSE_ENERGIES),
    ("timeslots", TIMESLOTS),
):
    register_collection(router, _path, _resource)


def _evses_metered_in(timeslot: int):
    metered = (
        sa.select(re_meters.c.asset_id)
        .join(re_slots, re_slots.c.sensor_id == re_meters.c.sensor_id)
        .where(re_slots.c.event_start >= timeslot, re_slots.c.event_start < timeslot + TIMESLOT_S)
    )
    return f.EVSES.columns["id"].in_(metered)


_related("/regions/{record_id}/regionalenergies", f.REGIONS, REGIONAL_ENERGIES, lambda i: e.region_id == i)
_related("/regions/{record_id}/regionalaggevseenergies", f.REGIONS, AGG_EVSE_ENERGIES, lambda i: e.region_id == i)
_related(
    "/regionalenergies/{record_id}/region",
    REGIONAL_ENERGIES,
    f.REGIONS,
    lambda i: f.REGIONS.columns["id"] == sa.select(e.region_id).where(e.id == i).scalar_subquery(),
)
_related(
    "/regionalenergies/{record_id}/timeslot",
    REGIONAL_ENERGIES,
    TIMESLOTS,
    lambda i: TIMESLOTS.columns["id"] == sa.select(e.timeslot_id).where(e.id == i).scalar_subquery(),
)
_related("/timeslots/{record_id}/regionalenergies", TIMESLOTS, REGIONAL_ENERGIES, lambda i: e.timeslot_id == i)
_related(
    "/timeslots/{record_id}/algoweights",
    TIMESLOTS,
    f.ALGO_WEIGHTS,
    lambda i: f.ALGO_WEIGHTS.columns["timeslot_id"] == i,
)
_related("/times/{record_id}/evses", TIMESLOTS, f.EVSES, _evses_metered_in)
_related("/timeslots/{record_id}/evses", TIMESLOTS, f.EVSES, _evses_metered_in)
