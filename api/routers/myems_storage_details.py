"""MyEMS ``reports/energystoragepowerstationdetails`` under ``/myems`` (issue 14), in MyEMS' own
shape, from the read models:

``GET /myems/reports/energystoragepowerstationdetails?id=`` (or ``uuid=``, or the seed's
``energystoragepowerstationdetailsid=``) -> ``{"energy_storage_power_station": {"id", "name", "uuid",
"address", "latitude", "longitude", "rated_capacity", "rated_power", "contact", "cost_center", "svg",
"description", "phase_of_lifecycle", "is_online", "pcs_run_state", "battery_operating_state",
"qrcode"}, "reporting_period": {"names", "units", "subtotals", "increment_rates", "timestamps",
"values"}, "energy_indicators": {"today_charge_energy_value", "today_discharge_energy_value",
"total_charge_energy_value", "total_discharge_energy_value"}, "revenue_indicators": {"today_...
_revenue_value", "total_..._revenue_value"}, "parameters": {"names", "timestamps", "values"}}``

* the station: as in the list report (rated capacity and power summed over its containers); the
  states derived from the batteries' latest power (kW, charging positive) when the station is
  online (a reading believed in the 10 minutes before the end): ``Running``/``Standby`` and
  ``Charging``/``Discharging``/``Idle``, else ``Unknown`` as MyEMS says;
* ``reporting_period``: empty lists, as MyEMS' own report returns them;
* energy (kWh) charged and discharged by the containers' batteries today (UTC) and ever; revenue:
  that energy at the account's time-of-use tariffs (currency of the tariff);
* ``parameters``: one series per power or state-of-charge sensor of the containers' batteries,
  grids and loads (``"<container>-<device>.P (kW)"``, ``.SOC``), over the reporting period
  (``reportingperiodstartdatetime``/``enddatetime``, UTC; default the 3 days before the end),
  timestamps ``MM-DDTHH:MM`` (UTC) at each reading's start (MyEMS repeats its points per minute).

``now`` (flexledger's extension) fixes the end. MyEMS' BMS, PCS, fire-control, HVAC, DC-DC and
schedule detail tables are separate endpoints (``...detailsbms`` ...), not in the seed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from fastapi import APIRouter

from api.deps import ReadConn
from api.errors import ApiError
from api.myems import PREFIX, MyEmsRoute, MyEmsUser
from api.routers.myems_assets import asset_uuid, children, owner_item
from api.routers.myems_microgrid_reports import battery_power, parse_now
from api.routers.myems_sites import STORAGE_STATIONS
from api.routers.myems_storage_reports import (
    is_online,
    reporting_period,
    station_base,
    station_batteries,
    station_containers,
    tou_money,
)
from api.validation import EARLIEST_YEAR, MAX_ID
from domain import tariffs as tf
from projections import myems_cost_centers as ccq
from projections import readings_query as rdq
from projections import registry_query as rq

router = APIRouter(prefix=PREFIX, tags=["MyEMS reports"], route_class=MyEmsRoute)
DEFAULT_PERIOD = timedelta(days=3)
POINT_SENSORS = {"power": "P", "state-of-charge": "SOC"}
DEVICE_TYPES = ("battery", "grid_connection", "building")
"""The container devices whose points MyEMS charts: batteries, grids and loads."""


def _station(conn: sa.Connection, user, id_: str | None, uuid: str | None) -> dict:
    text = (id_ or "").strip()
    if text:
        if not text.isdigit() or not 0 < int(text) <= MAX_ID:
            raise ApiError(400, "API.INVALID_ENERGY_STORAGE_POWER_STATION_ID", "id: a positive integer", "id")
        return STORAGE_STATIONS.visible(conn, user, int(text))
    if uuid is None or len(uuid.strip()) != 36:
        raise ApiError(400, "API.INVALID_ENERGY_STORAGE_POWER_STATION_ID", "id or uuid is required", "id")
    for asset in rq.list_assets(conn, user.account_id):
        if STORAGE_STATIONS.member(asset) and asset_uuid(asset) == uuid.strip().lower():
            return asset
    raise ApiError(404, "API.ENERGY_STORAGE_POWER_STATION_NOT_FOUND", f"no station {uuid}", "uuid")


def _states(conn: sa.Connection, batteries: list[dict], online: bool, end: datetime) -> tuple[str, str]:
    """(pcs_run_state, battery_operating_state) from the batteries' summed latest power."""
    if not online:
        return "Unknown", "Unknown"
    rows = battery_power(conn, batteries, end - timedelta(days=1), end)
    latest: dict[int, float] = {}
    for start_s, kw, _ in rows:
        latest[start_s] = latest.get(start_s, 0.0) + kw
    if not latest:
        return "Unknown", "Unknown"
    kw = latest[max(latest)]
    return ("Running", "Charging") if kw > 0 else ("Running", "Discharging") if kw < 0 else ("Standby", "Idle")


def _energy(rows: list[tuple[int, float, int]]) -> tuple[float, float]:
    """(charged kWh, discharged kWh) of (start s, kW, resolution s) rows."""
    charge = sum(kw * r / 3600 for _, kw, r in rows if kw > 0)
    discharge = sum(-kw * r / 3600 for _, kw, r in rows if kw < 0)
    return round(charge, 3), round(discharge, 3)


def _parameters(conn: sa.Connection, station: dict, period: tuple[datetime, datetime]) -> dict:
    names, timestamps, values = [], [], []
    first_s, end_s = int(period[0].timestamp()), int(period[1].timestamp())
    for container in station_containers(conn, station):
        for device in sorted(children(conn, container, set(DEVICE_TYPES)), key=lambda d: d["id"]):
            for sensor in rq.list_sensors(conn, asset_id=device["id"]):
                suffix = POINT_SENSORS.get(sensor["name"])
                if suffix is None:
                    continue
                found = rdq.latest_values(conn, sensor["id"], first_s, end_s, rdq.MEASURED)
                names.append(f"{container['name']}-{device['name']}.{suffix} ({sensor['unit']})")
                timestamps.append([datetime.fromtimestamp(s, UTC).strftime("%m-%dT%H:%M") for s in sorted(found)])
                values.append([found[s] for s in sorted(found)])
    return {"names": names, "timestamps": timestamps, "values": values}


@router.get("/reports/energystoragepowerstationdetails")
def station_details(
    user: MyEmsUser,
    conn: ReadConn,
    id: str | None = None,  # noqa: A002 - MyEMS' parameter name
    uuid: str | None = None,
    energystoragepowerstationdetailsid: str | None = None,
    reportingperiodstartdatetime: str | None = None,
    reportingperiodenddatetime: str | None = None,
    now: str | None = None,
) -> dict:
    """One station's details in MyEMS' shape: the station and its states, today's and total charge and
    discharge energy (kWh) and revenue (the account's time-of-use tariffs), and its devices' power and
    state-of-charge readings over the reporting period (default the last 3 days)."""
    end = parse_now(now)
    station = _station(conn, user, id or energystoragepowerstationdetailsid, uuid)
    if reportingperiodstartdatetime or reportingperiodenddatetime:
        period = reporting_period(reportingperiodstartdatetime, reportingperiodenddatetime, end)
    else:
        period = (end - DEFAULT_PERIOD, end)
    batteries = station_batteries(conn, station)
    online = is_online(conn, batteries, end)
    pcs, battery_state = _states(conn, batteries, online, end)
    base = station_base(conn, station)
    owner = owner_item(conn, station, "energystoragepowerstation")
    tariffs = [tf.TariffDefinition.model_validate(t["definition"]) for t in ccq.bound_tariffs(conn, user.account_id)]
    tariffs = [t for t in tariffs if t.tariff_type == "timeofuse"]
    today = battery_power(conn, batteries, end.replace(hour=0, minute=0, second=0, microsecond=0), end)
    ever = battery_power(conn, batteries, datetime(EARLIEST_YEAR, 1, 1, tzinfo=UTC), end)
    (today_charge, today_discharge), (total_charge, total_discharge) = _energy(today), _energy(ever)
    (today_charge_money, today_discharge_money), (total_charge_money, total_discharge_money) = (
        tou_money(today, tariffs), tou_money(ever, tariffs))  # fmt: skip
    return {
        "energy_storage_power_station": {
            **{k: base[k] for k in ("id", "name", "uuid", "address", "latitude", "longitude")},
            "rated_capacity": base["rated_capacity"],
            "rated_power": base["rated_power"],
            "contact": owner["contact"],
            "cost_center": owner["cost_center"],
            "svg": owner["svg"],
            "description": owner["description"],
            "phase_of_lifecycle": base["phase_of_lifecycle"],
            "is_online": online,
            "pcs_run_state": pcs,
            "battery_operating_state": battery_state,
            "qrcode": owner["qrcode"],
        },
        "reporting_period": {k: [] for k in ("names", "units", "subtotals", "increment_rates", "timestamps", "values")},
        "energy_indicators": {
            "today_charge_energy_value": today_charge,
            "today_discharge_energy_value": today_discharge,
            "total_charge_energy_value": total_charge,
            "total_discharge_energy_value": total_discharge,
        },
        "revenue_indicators": {
            "today_charge_revenue_value": today_charge_money,
            "today_discharge_revenue_value": today_discharge_money,
            "total_charge_revenue_value": total_charge_money,
            "total_discharge_revenue_value": total_discharge_money,
        },
        "parameters": _parameters(conn, station, period),
    }
