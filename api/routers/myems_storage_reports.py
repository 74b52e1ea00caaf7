"""MyEMS energy storage power station reports under ``/myems`` (issue 14), computed from the read
models: the stations a user is bound to (``energystoragepowerstations/{id}/users``), their
containers (``.../containers``) and those containers' batteries, whose ``power`` sensors (kW,
charging positive, discharging negative) give the energy: kWh = kW * hours of each reading.

* ``GET /myems/reports/energystoragepowerstationlist`` -> ``[{"id", "name", "uuid", "address",
  "latitude", "longitude", "rated_capacity", "rated_power", "description", "phase_of_lifecycle",
  "commissioning_date", "qrcode", "is_online", "pcs_run_state", "battery_operating_state",
  "battery_soc_point_value", "battery_power_point_value", "charge_times", "charge_values",
  "today_total_charge", "discharge_times", "discharge_values", "today_total_discharge"}]``: the
  last 24 hours hourly (UTC ``HH:MM``); states derived from the batteries' latest power (the
  platform keeps no PCS run-state or SoC point: ``battery_soc_point_value`` is ``null``).
* ``GET /myems/reports/energystoragepowerstationdashboard?useruuid=`` -> ``{"total_rated_capacity",
  "total_rated_power", "total_online", "total_offline", "total_locked", "energy_storage_power_stations":
  [... "subtotal_charge_energy", "subtotal_discharge_energy", "subtotal_charge_billing",
  "subtotal_discharge_billing", "subtotal_charge_carbon", "subtotal_discharge_carbon"], "total_..."}``
  over the reporting period (``reportingperiodstartdatetime``/``enddatetime``, UTC), else the
  :data:`DEFAULT_DAYS` days before now; billing at the account's time-of-use tariff valid at each
  reading; carbon: see below.
* ``GET /myems/reports/energystoragepowerstationscarbon?useruuid=`` -> ``{"energy_storage_power_station_names",
  "reporting": {"charge_7_days", ...: {"timestamps_array", "values_array"}}}`` in kgCO2e.

Carbon is the energy of each reading times the emission factor ``kgco2eperkwh`` (flexledger's
extension; default the energy category's, :data:`domain.myems_meters.ENERGY_CATEGORIES`), or times
the readings of a carbon-intensity sensor where the station names one (``carbon_intensity_sensor_id``)
or the report does (``carbonintensitysensorid``): :mod:`api.routers.myems_carbon`. ``now`` (an
aware ISO datetime, also flexledger's) fixes the reports' end for past data. Rated capacity and
power sum the bound containers'.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from fastapi import APIRouter

from api.auth import CurrentUser
from api.deps import ReadConn
from api.errors import ApiError
from api.myems import PREFIX, MyEmsRoute, MyEmsUser
from api.routers import myems_carbon as cb
from api.routers.myems_assets import asset_uuid, children, myems_attrs
from api.routers.myems_microgrid_reports import (
    UTC_ZONE,
    battery_power,
    empty_reporting,
    parse_now,
    report_end,
    report_windows,
)
from api.routers.myems_reports import check_period_type
from api.routers.myems_sites import STORAGE_STATIONS
from api.routers.myems_storage_containers import CONTAINERS
from api.validation import Id
from domain import myems_billing as mb
from domain import myems_carbon as mc
from domain import tariffs as tf
from projections import myems_cost_centers as ccq
from projections import myems_sources_query as sq
from projections import registry_query as rq

router = APIRouter(prefix=PREFIX, tags=["MyEMS reports"], route_class=MyEmsRoute)
DEFAULT_DAYS = 365
MAX_DAYS = 800
ONLINE_WITHIN = timedelta(minutes=10)


def stations_of(conn: sa.Connection, user: CurrentUser) -> list[dict]:
    """The stations of the caller's account the caller is bound to, by id."""
    return [
        a
        for a in rq.list_assets(conn, user.account_id)
        if STORAGE_STATIONS.member(a) and user.id in (myems_attrs(a).get("user_ids") or [])
    ]


def station_containers(conn: sa.Connection, station: dict) -> list[dict]:
    found = []
    for container_id in myems_attrs(station).get("container_ids") or []:
        asset = rq.asset_by_id(conn, container_id)
        if CONTAINERS.member(asset) and asset["account_id"] == station["account_id"]:
            found.append(asset)
    return found


def station_batteries(conn: sa.Connection, station: dict) -> list[dict]:
    return [b for c in station_containers(conn, station) for b in children(conn, c, {"battery"})]


def _rated(conn: sa.Connection, station: dict) -> tuple[float, float]:
    containers = [myems_attrs(c) for c in station_containers(conn, station)]
    return (
        round(sum(c.get("rated_capacity") or 0.0 for c in containers), 3),
        round(sum(c.get("rated_power") or 0.0 for c in containers), 3),
    )


def is_online(conn: sa.Connection, batteries: list[dict], now: datetime) -> bool:
    sensors = [s["id"] for b in batteries for s in rq.list_sensors(conn, asset_id=b["id"])]
    seen = sq.last_belief_time(conn, sensors)
    return seen is not None and timedelta(0) <= now - seen < ONLINE_WITHIN  # reported in the 10 min before now


def station_base(conn: sa.Connection, station: dict) -> dict:
    a = myems_attrs(station)
    capacity, power = _rated(conn, station)
    return {
        "id": station["id"],
        "name": station["name"],
        "uuid": asset_uuid(station),
        "address": a.get("address"),
        "latitude": station["latitude"],
        "longitude": station["longitude"],
        "rated_capacity": capacity,
        "rated_power": power,
        "description": a.get("description"),
        "phase_of_lifecycle": None,
    }


def _hourly(rows: list[tuple[int, float, int]], start: datetime) -> tuple[list[float], list[float]]:
    charge, discharge = [0.0] * 24, [0.0] * 24
    for start_s, kw, resolution_s in rows:
        hour = int((start_s - start.timestamp()) // 3600)
        if 0 <= hour < 24:
            target = charge if kw > 0 else discharge
            target[hour] += abs(kw) * resolution_s / 3600.0
    return [round(v, 3) for v in charge], [round(v, 3) for v in discharge]


def _states(latest_kw: float | None) -> tuple[str, str]:
    if latest_kw is None:
        return "Unknown", "Unknown"
    if latest_kw > 0:
        return "On Grid Charging", "Charging"
    if latest_kw < 0:
        return "On Grid DisCharging", "Discharging"
    return "Standby", "Idle"


def _list_item(conn: sa.Connection, station: dict, now: datetime) -> dict:
    end = now.replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(hours=24)
    batteries = station_batteries(conn, station)
    rows = battery_power(conn, batteries, start, now)
    charge, discharge = _hourly(rows, start)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    latest: dict[int, float] = {}
    for start_s, kw, _ in rows:
        latest[int(start_s)] = latest.get(int(start_s), 0.0) + kw
    latest_kw = latest[max(latest)] if latest else None
    pcs, battery = _states(latest_kw)
    times = [(start + timedelta(hours=h)).strftime("%H:%M") for h in range(24)]
    return {
        **station_base(conn, station),
        "commissioning_date": None,
        "qrcode": "energystoragepowerstation:" + asset_uuid(station),
        "is_online": is_online(conn, batteries, now),
        "pcs_run_state": pcs,
        "battery_operating_state": battery,
        "battery_soc_point_value": None,
        "battery_power_point_value": None if latest_kw is None else round(latest_kw, 3),
        "charge_times": times,
        "charge_values": charge,
        "today_total_charge": round(sum(abs(kw) * r / 3600 for s, kw, r in rows if kw > 0 and s >= today), 3),
        "discharge_times": times,
        "discharge_values": discharge,
        "today_total_discharge": round(sum(abs(kw) * r / 3600 for s, kw, r in rows if kw < 0 and s >= today), 3),
    }


@router.get("/reports/energystoragepowerstationlist")
def station_list(user: MyEmsUser, conn: ReadConn, now: str | None = None) -> list[dict]:
    """The caller's energy storage power stations with rated capacity/power, state and today's
    charge/discharge energy (kWh), as MyEMS' ``reports/energystoragepowerstationlist``."""
    end = parse_now(now)
    return [_list_item(conn, station, end) for station in stations_of(conn, user)]


def _utc(text: str | None, field: str) -> datetime | None:
    if text is None or not text.strip():
        return None
    try:
        return datetime.strptime(text.strip(), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    except ValueError as exc:
        raise ApiError(400, f"API.INVALID_{field.upper()}", f"{field}: YYYY-MM-DDTHH:MM:SS", field) from exc


def reporting_period(start: str | None, end: str | None, now: datetime) -> tuple[datetime, datetime]:
    first = _utc(start, "reportingperiodstartdatetime") or now - timedelta(days=DEFAULT_DAYS)
    last = _utc(end, "reportingperiodenddatetime") or now
    if not first < last or last - first > timedelta(days=MAX_DAYS):
        raise ApiError(
            400,
            "API.INVALID_REPORTING_PERIOD_END_DATETIME",
            f"the reporting period ends after it starts, within {MAX_DAYS} days",
            "reportingperiodenddatetime",
        )
    return first, last


def tou_money(rows: list[tuple[int, float, int]], tariffs: list[tf.TariffDefinition]) -> tuple[float, float]:
    """Charge and discharge money at the first time-of-use tariff valid at each reading (0 where none is)."""
    totals = [0.0, 0.0]
    for start_s, kw, resolution_s in rows:
        moment = datetime.fromtimestamp(start_s, UTC)
        for tariff in tariffs:
            price = tf.price_at(tariff, moment)
            if price is not None:
                totals[0 if kw > 0 else 1] += (
                    abs(kw) * resolution_s / 3600 * price * mb.price_per_kwh_factor(tariff.unit_of_price)
                )
                break
    return round(totals[0], 2), round(totals[1], 2)


def _dashboard_item(
    conn: sa.Connection,
    station: dict,
    period: tuple[datetime, datetime],
    now: datetime,
    tariffs: list[tf.TariffDefinition],
    factor: float,
    intensity_sensor_id: int | None = None,
) -> dict:
    batteries = station_batteries(conn, station)
    rows = battery_power(conn, batteries, *period)
    charge_kg, discharge_kg = mc.carbon_kg(rows, factor, cb.intensity_for(conn, station, intensity_sensor_id, *period))
    charge = round(sum(kw * r / 3600 for _, kw, r in rows if kw > 0), 3)
    discharge = round(sum(-kw * r / 3600 for _, kw, r in rows if kw < 0), 3)
    charge_money, discharge_money = tou_money(rows, tariffs)
    base = station_base(conn, station)
    return {
        **{k: base[k] for k in ("id", "name", "uuid", "address")},
        "space_name": None,
        **{
            k: base[k]
            for k in ("latitude", "longitude", "rated_capacity", "rated_power", "description", "phase_of_lifecycle")
        },
        "status": "online" if is_online(conn, batteries, now) else "offline",
        "subtotal_charge_energy": charge,
        "subtotal_discharge_energy": discharge,
        "subtotal_charge_billing": charge_money,
        "subtotal_discharge_billing": discharge_money,
        "subtotal_charge_carbon": round(charge_kg, 3),
        "subtotal_discharge_carbon": round(discharge_kg, 3),
    }


@router.get("/reports/energystoragepowerstationdashboard")
def station_dashboard(
    user: MyEmsUser,
    conn: ReadConn,
    useruuid: str | None = None,
    periodtype: str | None = None,
    reportingperiodstartdatetime: str | None = None,
    reportingperiodenddatetime: str | None = None,
    now: str | None = None,
    kgco2eperkwh: float | None = None,
    carbonintensitysensorid: Id | None = None,
) -> dict:
    """Totals and per-station charge/discharge energy (kWh), billing (from the account's time-of-use
    tariff) and carbon (kg CO2e: the station's or ``carbonintensitysensorid``'s carbon-intensity
    readings, else ``kgco2eperkwh``, default 0.8) over the reporting period."""
    end = report_end(user, useruuid, now)
    if periodtype is not None:  # MyEMS takes it and sums the whole period; checked all the same
        check_period_type(periodtype)
    period = reporting_period(reportingperiodstartdatetime, reportingperiodenddatetime, end)
    tariffs = [tf.TariffDefinition.model_validate(t["definition"]) for t in ccq.bound_tariffs(conn, user.account_id)]
    tariffs = [t for t in tariffs if t.tariff_type == "timeofuse"]
    factor = cb.emission_factor(kgco2eperkwh)
    if carbonintensitysensorid is not None:  # checked even when every station names its own
        cb.intensity_sensor(conn, user.account_id, carbonintensitysensorid, cb.FIELD)
    items = [
        _dashboard_item(conn, s, period, end, tariffs, factor, carbonintensitysensorid) for s in stations_of(conn, user)
    ]

    def total(key: str, digits: int = 3) -> float:
        return round(sum(item[key] for item in items), digits)

    return {
        "total_rated_capacity": total("rated_capacity"),
        "total_rated_power": total("rated_power"),
        "total_online": sum(item["status"] == "online" for item in items),
        "total_offline": sum(item["status"] == "offline" for item in items),
        "total_locked": 0,
        "energy_storage_power_stations": items,
        "total_charge_energy": total("subtotal_charge_energy"),
        "total_discharge_energy": total("subtotal_discharge_energy"),
        "total_charge_billing": total("subtotal_charge_billing", 2),
        "total_discharge_billing": total("subtotal_discharge_billing", 2),
        "total_charge_carbon": total("subtotal_charge_carbon"),
        "total_discharge_carbon": total("subtotal_discharge_carbon"),
    }


@router.get("/reports/energystoragepowerstationscarbon")
def stations_carbon(
    user: MyEmsUser,
    conn: ReadConn,
    useruuid: str | None = None,
    now: str | None = None,
    kgco2eperkwh: float | None = None,
    carbonintensitysensorid: Id | None = None,
) -> dict:
    """Charge and discharge carbon (kg CO2e) of the caller's stations over the last 7 days, this month
    and this year up to ``now``: the energy of each interval times the station's (or
    ``carbonintensitysensorid``'s) carbon-intensity reading, else the emission factor ``kgco2eperkwh``
    (default 0.8)."""
    end = report_end(user, useruuid, now)
    factor = cb.emission_factor(kgco2eperkwh)
    if carbonintensitysensorid is not None:
        cb.intensity_sensor(conn, user.account_id, carbonintensitysensorid, cb.FIELD)
    stations = stations_of(conn, user)
    reporting = empty_reporting()
    for station in stations:
        batteries = station_batteries(conn, station)
        for window, (start, period_type) in report_windows(end).items():
            rows = battery_power(conn, batteries, start, end)
            intensity = cb.intensity_for(conn, station, carbonintensitysensorid, start, end)
            kg = mc.carbon_by_period(rows, factor, intensity, period_type, UTC_ZONE)
            for kind in ("charge", "discharge"):
                labels = sorted(kg[kind])
                reporting[f"{kind}_{window}"]["timestamps_array"].append(labels)
                reporting[f"{kind}_{window}"]["values_array"].append([kg[kind][label] for label in labels])
    return {"energy_storage_power_station_names": [s["name"] for s in stations], "reporting": reporting}
