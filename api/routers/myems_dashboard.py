"""MyEMS ``reports/dashboard`` under ``/myems`` (issue 14), over the caller's account.

MyEMS builds its dashboard on the user's root space; here the root space is the user's account
(``space``: its id and name; ``area`` and ``number_of_occupants`` ``null``), its energy the
readings of the account's counted meters (``is_counted``), its **child spaces** the account's
sites (the root asset each such meter hangs under), by name. Input is consumption, output
production (the platform's sign convention, :mod:`domain.myems_dashboard`); cost is the input
priced with the time-of-use tariffs bound to the account's cost center; carbon and coal equivalents
use the energy category's factors. ``sensor``/``point``: the account's MyEMS sensors (``point_group``
assets) with their points, and each point's last value in the reporting period. Datetimes are
local in UTC; ``periodtype`` (hourly ... yearly) groups the reporting period's ``timestamps`` and
``values``. Keys as MyEMS' dashboard with ``periodtype``; one energy category (electricity).
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from fastapi import APIRouter

from api.deps import ReadConn
from api.myems import PREFIX, MyEmsRoute, MyEmsUser
from api.routers.myems_assets import asset_uuid, myems_attrs
from api.routers.myems_meter_fields import myems_attributes
from api.routers.myems_meters import meters_of
from api.routers.myems_microgrid_reports import report_end
from api.routers.myems_reports import check_period_type, readings_kwh, report_periods
from domain import myems_dashboard as md
from domain import myems_meters as mm
from domain import tariffs as tf
from projections import myems_cost_centers as ccq
from projections import readings_query as rdq
from projections import registry_query as rq

router = APIRouter(prefix=PREFIX, tags=["MyEMS reports"], route_class=MyEmsRoute)
UTC_ZONE = ZoneInfo("UTC")
CATEGORY = mm.ENERGY_CATEGORIES[mm.ELECTRICITY]


def _site_of(conn: sa.Connection, asset_id: int, cache: dict[int, dict]) -> dict:
    """The root asset (site) an asset hangs under."""
    asset = cache.get(asset_id) or rq.asset_by_id(conn, asset_id)
    while asset["parent_asset_id"] is not None:
        asset = cache.setdefault(asset["parent_asset_id"], rq.asset_by_id(conn, asset["parent_asset_id"]))
    return asset


def _flows(conn: sa.Connection, account_id: int, period, tariffs) -> dict[str, dict[str, list]]:
    """Per site name: input kWh, output kWh and input cost readings over ``period`` (``None``: none)."""
    by_site: dict[str, dict[str, list]] = {}
    cache: dict[int, dict] = {}
    for meter in meters_of(conn, account_id):
        if not myems_attributes(meter).get("is_counted", True):
            continue
        consumed, produced = md.split_flows(readings_kwh(conn, meter, period))
        site = by_site.setdefault(_site_of(conn, meter["asset_id"], cache)["name"],
                                  {"input": [], "output": [], "cost": []})  # fmt: skip
        site["input"] += consumed
        site["output"] += produced
        site["cost"] += md.cost_of(consumed, tariffs)
    return by_site


def _merged(sites: dict[str, dict[str, list]], flow: str) -> list[tuple[int, float]]:
    return [reading for site in sites.values() for reading in site[flow]]


def _total(readings: list[tuple[int, float]], digits: int = 6) -> float:
    return round(sum(v for _, v in readings), digits)


def _base(base: dict, currency: str | None, has_input: bool, has_output: bool) -> dict:
    energy, cost = _total(_merged(base, "input")), _total(_merged(base, "cost"), 2)
    output = _total(_merged(base, "output"))
    names, units = ([CATEGORY["name"]], [CATEGORY["unit_of_measure"]])
    return {
        "base_period_input": {"names": names if has_input else [], "units": units if has_input else [],
                              "subtotals": [energy] if has_input else [],
                              "total_in_kgce": round(energy * CATEGORY["kgce"], 6),
                              "total_in_kgco2e": round(energy * CATEGORY["kgco2e"], 6)},
        "base_period_cost": {"names": names if has_input else [], "units": [currency] if has_input else [],
                             "subtotals": [cost] if has_input else [], "total": cost},
        "base_period_output": {"names": names if has_output else [], "units": units if has_output else [],
                               "subtotals": [output] if has_output else []},
    }  # fmt: skip


def _series(readings: list[tuple[int, float]], period_type: str, digits: int = 6) -> tuple[list, list]:
    by_period = mm.energy_by_period(readings, period_type, UTC_ZONE)
    return [label for label, _ in by_period], [round(v, digits) for _, v in by_period]


def _reporting_input(sites: dict, base: dict, period_type: str, tariffs, has_input: bool) -> dict:
    readings = _merged(sites, "input")
    energy, base_energy = _total(readings), _total(_merged(base, "input"))
    timestamps, values = _series(readings, period_type)
    peaks = tf.energy_by_peak_type([(datetime.fromtimestamp(s, UTC), v) for s, v in readings], tariffs)
    per_category = {
        "names": [CATEGORY["name"]], "energy_category_ids": [mm.ELECTRICITY], "units": [CATEGORY["unit_of_measure"]],
        "timestamps": [timestamps], "values": [values], "subtotals": [energy],
        "subtotals_in_kgce": [round(energy * CATEGORY["kgce"], 6)],
        "subtotals_in_kgco2e": [round(energy * CATEGORY["kgco2e"], 6)],
        "toppeaks": [peaks["toppeak"]], "onpeaks": [peaks["onpeak"]], "midpeaks": [peaks["midpeak"]],
        "offpeaks": [peaks["offpeak"]], "increment_rates": [md.increment_rate(energy, base_energy)],
    }  # fmt: skip
    item = {k: v if has_input else [] for k, v in per_category.items()}
    rate = md.increment_rate(energy, base_energy)
    return {**item, "total_in_kgce": round(energy * CATEGORY["kgce"], 6),
            "total_in_kgco2e": round(energy * CATEGORY["kgco2e"], 6),
            "increment_rate_in_kgce": rate, "increment_rate_in_kgco2e": rate}  # fmt: skip


def _reporting_cost(sites: dict, base: dict, period_type: str, currency: str | None, has_input: bool) -> dict:
    readings = _merged(sites, "cost")
    cost, base_cost = _total(readings, 2), _total(_merged(base, "cost"), 2)
    timestamps, values = _series(readings, period_type, 2)
    rate = md.increment_rate(cost, base_cost)
    per_category = {"names": [CATEGORY["name"]], "energy_category_ids": [mm.ELECTRICITY], "units": [currency],
                    "timestamps": [timestamps], "values": [values], "subtotals": [cost], "increment_rates": [rate]}
    item = {k: v if has_input else [] for k, v in per_category.items()}
    return {**item, "total": cost, "total_increment_rate": rate, "total_unit": currency}


def _reporting_output(sites: dict, base: dict, period_type: str, has_output: bool) -> dict:
    readings = _merged(sites, "output")
    output, base_output = _total(readings), _total(_merged(base, "output"))
    timestamps, values = _series(readings, period_type)
    per_category = {"names": [CATEGORY["name"]], "energy_category_ids": [mm.ELECTRICITY],
                    "units": [CATEGORY["unit_of_measure"]], "timestamps": [timestamps], "values": [values],
                    "subtotals": [output], "increment_rates": [md.increment_rate(output, base_output)]}
    return {k: v if has_output else [] for k, v in per_category.items()}


def _child_spaces(sites: dict, flow: str, unit: str | None, has_input: bool) -> dict:
    names = sorted(sites)
    digits = 2 if flow == "cost" else 6
    return {
        "energy_category_names": [CATEGORY["name"]] if has_input else [],
        "units": [unit] if has_input else [],
        "child_space_names_array": [names] if has_input else [],
        "subtotals_array": [[_total(sites[n][flow], digits) for n in names]] if has_input else [],
    }


def _sensors(conn: sa.Connection, account_id: int, period) -> tuple[dict, dict]:
    """MyEMS' ``sensor`` (point groups and their points) and ``point`` (last value in the period)."""
    sensors, points = {}, {}
    for group in rq.list_assets(conn, account_id):
        if group["asset_type"] != "point_group":
            continue
        found = [rq.sensor_by_id(conn, i) for i in myems_attrs(group).get("point_ids") or []]
        found = [s for s in found if s is not None]
        sensors[group["id"]] = {"name": group["name"], "description": myems_attrs(group).get("description"),
                                "uuid": asset_uuid(group), "point_name_list": [s["name"] for s in found],
                                "point_unit_list": [s["unit"] for s in found],
                                "point_id_list": [s["id"] for s in found]}  # fmt: skip
        first_s, end_s = int(period[0].timestamp()), int(period[1].timestamp())
        for sensor in found:
            values = rdq.latest_values(conn, sensor["id"], first_s, end_s, rdq.MEASURED)
            if values:
                points[sensor["id"]] = values[max(values)]
    return sensors, points


@router.get("/reports/dashboard")
def dashboard(
    user: MyEmsUser,
    conn: ReadConn,
    useruuid: str | None = None,
    periodtype: str | None = None,
    baseperiodstartdatetime: str | None = None,
    baseperiodenddatetime: str | None = None,
    reportingperiodstartdatetime: str | None = None,
    reportingperiodenddatetime: str | None = None,
) -> dict:
    """The caller's account as MyEMS' root space: energy in and out per period, cost at the cost
    center's time-of-use tariffs, base and reporting periods, per site."""
    report_end(user, useruuid, None)
    check_period_type(periodtype)
    base_period, reporting = report_periods(UTC_ZONE, baseperiodstartdatetime, baseperiodenddatetime,
                                            reportingperiodstartdatetime, reportingperiodenddatetime)  # fmt: skip
    account = rq.account_by_id(conn, user.account_id)
    tariffs = [tf.TariffDefinition.model_validate(t["definition"]) for t in ccq.bound_tariffs(conn, account["id"])]
    currency = md.currency_of(tariffs)
    base, sites = _flows(conn, account["id"], base_period, tariffs), _flows(conn, account["id"], reporting, tariffs)
    has_input = bool(_merged(base, "input") or _merged(sites, "input"))
    has_output = bool(_merged(base, "output") or _merged(sites, "output"))
    sensor, point = _sensors(conn, account["id"], reporting)
    return {
        "space": {"id": account["id"], "name": account["name"], "area": None, "number_of_occupants": None},
        **_base(base, currency, has_input, has_output),
        "sensor": sensor,
        "point": point,
        "reporting_period_input": _reporting_input(sites, base, periodtype, tariffs, has_input),
        "reporting_period_cost": _reporting_cost(sites, base, periodtype, currency, has_input),
        "reporting_period_output": _reporting_output(sites, base, periodtype, has_output),
        "child_space_input": _child_spaces(sites, "input", CATEGORY["unit_of_measure"], has_input),
        "child_space_cost": _child_spaces(sites, "cost", currency, has_input),
    }
