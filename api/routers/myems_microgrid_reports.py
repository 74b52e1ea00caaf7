"""MyEMS ``reports/microgridsbilling`` and ``reports/microgridsenergy`` under ``/myems`` (issue 14),
computed from the read models (``microgridsenergy``: the same shape, in kWh instead of money).

``GET /myems/reports/microgridsbilling?useruuid=`` -> ``{"microgrid_names": [...], "reporting":
{"charge_7_days" | "discharge_7_days" | "charge_this_month" | "discharge_this_month" |
"charge_this_year" | "discharge_this_year": {"timestamps_array": [[...] per microgrid],
"values_array": [[...] per microgrid]}}}``: the money for charging and discharging the microgrid's
batteries (their ``power`` sensors' latest beliefs) at the microgrid's tariff, daily for the last
7 days and this month, monthly for this year (UTC). ``now`` (an aware ISO datetime, flexledger's
extension) fixes the report's end, for reproducible reports over past data.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from fastapi import APIRouter

from api.auth import CurrentUser
from api.deps import ReadConn
from api.errors import ApiError
from api.myems import PREFIX, MyEmsRoute, MyEmsUser, user_uuid
from api.routers.myems_assets import myems_attrs
from api.routers.myems_microgrids import devices_of
from api.validation import EARLIEST_YEAR, LATEST_YEAR
from domain import myems_billing as mb
from domain import myems_microgrids as mg
from domain import tariffs as tf
from projections import myems_tariffs as tq
from projections import readings_query as rdq
from projections import registry_query as rq

router = APIRouter(prefix=PREFIX, tags=["MyEMS reports"], route_class=MyEmsRoute)
UTC_ZONE = ZoneInfo("UTC")


def report_windows(now: datetime) -> dict[str, tuple[datetime, str]]:
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return {
        "7_days": (today - timedelta(days=6), "daily"),
        "this_month": (today.replace(day=1), "daily"),
        "this_year": (today.replace(month=1, day=1), "monthly"),
    }


def battery_power(
    conn: sa.Connection, batteries: list[dict], start: datetime, end: datetime
) -> list[tuple[int, float, int]]:
    """(start epoch s, kW, resolution s) of the batteries' power sensors."""
    found = []
    first_s, end_s = int(start.timestamp()), int(end.timestamp())
    for battery in batteries:
        for sensor in rq.list_sensors(conn, asset_id=battery["id"]):
            if sensor["name"] == "power":
                values = rdq.latest_values(conn, sensor["id"], first_s, end_s, rdq.MEASURED)
                found.extend((s, v, sensor["event_resolution_s"]) for s, v in sorted(values.items()))
    return found


def _add(total: dict[str, float], part: dict[str, float], digits: int) -> None:
    for label, value in part.items():
        total[label] = round(total.get(label, 0.0) + value, digits)


def windows_report(
    conn: sa.Connection, batteries: list[dict], tariff: tf.TariffDefinition | None, now: datetime, money: bool
) -> dict[str, tuple[list, list]]:
    """Per window (``charge_7_days`` ... ``discharge_this_year``): (labels, values) of the batteries'
    charge and discharge money at ``tariff`` (``money``), else energy (kWh)."""
    out: dict[str, tuple[list, list]] = {}
    for window, (start, period_type) in report_windows(now).items():
        totals: dict[str, dict[str, float]] = {"charge": {}, "discharge": {}}
        if tariff is not None or not money:
            rows = battery_power(conn, batteries, start, now)
            for resolution_s in {r for _, _, r in rows}:
                part = mb.billing_by_period(
                    [(s, v) for s, v, r in rows if r == resolution_s],
                    resolution_s,
                    tariff if money else None,
                    period_type,
                    UTC_ZONE,
                )
                for kind in totals:
                    _add(totals[kind], part[kind], 2 if money else 3)
        for kind, values in totals.items():
            out[f"{kind}_{window}"] = (sorted(values), [values[k] for k in sorted(values)])
    return out


def _report(conn: sa.Connection, microgrid: dict, now: datetime, money: bool) -> dict[str, tuple[list, list]]:
    """Per window: charge and discharge money at the microgrid's tariff (``money``), else energy (kWh)."""
    tariff_row = tq.tariff_by_id(conn, myems_attrs(microgrid).get("tariff_id") or 0)
    tariff = tf.TariffDefinition.model_validate(tariff_row["definition"]) if tariff_row else None
    return windows_report(conn, devices_of(conn, microgrid, mg.FAMILIES["batteries"]), tariff, now, money)


def report_end(user: CurrentUser, useruuid: str | None, now: str | None) -> datetime:
    """The caller checked against ``useruuid`` (MyEMS' parameter) and the report's end (``now`` or now, UTC)."""
    if useruuid is None or len(useruuid.strip()) != 36:
        raise ApiError(400, "API.INVALID_USER_UUID", "useruuid is the caller's User-UUID", "useruuid")
    if useruuid.strip().lower() != user_uuid(user.id) and not user.can_read_all:
        raise ApiError(403, "API.FORBIDDEN", "a report for another user", "useruuid")
    return parse_now(now)


def parse_now(now: str | None) -> datetime:
    try:
        end = datetime.fromisoformat(now) if now else datetime.now(UTC)
    except ValueError as exc:
        raise ApiError(400, "API.INVALID_NOW", "now is an ISO 8601 datetime with an offset", "now") from exc
    if end.tzinfo is None:
        raise ApiError(400, "API.INVALID_NOW", "now needs an offset (e.g. +00:00)", "now")
    if not EARLIEST_YEAR <= end.year <= LATEST_YEAR:
        raise ApiError(400, "API.INVALID_NOW", f"now: a year from {EARLIEST_YEAR} to {LATEST_YEAR}", "now")
    return end.astimezone(UTC)


def empty_reporting() -> dict:
    return {
        f"{kind}_{window}": {"timestamps_array": [], "values_array": []}
        for window in ("7_days", "this_month", "this_year")
        for kind in ("charge", "discharge")
    }


def _microgrids_report(
    user: CurrentUser, conn: sa.Connection, useruuid: str | None, now: str | None, money: bool
) -> dict:
    end = report_end(user, useruuid, now)
    microgrids = [a for a in rq.list_assets(conn, user.account_id) if a["asset_type"] == "microgrid"]
    reporting = empty_reporting()
    for microgrid in microgrids:
        for key, (labels, values) in _report(conn, microgrid, end, money).items():
            reporting[key]["timestamps_array"].append(labels)
            reporting[key]["values_array"].append(values)
    return {"microgrid_names": [m["name"] for m in microgrids], "reporting": reporting}


@router.get("/reports/microgridsbilling")
def microgrids_billing(user: MyEmsUser, conn: ReadConn, useruuid: str | None = None, now: str | None = None) -> dict:
    """Money for charging and discharging each microgrid's batteries at its tariff: daily for the last
    7 days and this month, monthly for this year (UTC); ``now`` fixes the end."""
    return _microgrids_report(user, conn, useruuid, now, money=True)


@router.get("/reports/microgridsenergy")
def microgrids_energy(user: MyEmsUser, conn: ReadConn, useruuid: str | None = None, now: str | None = None) -> dict:
    """Energy (kWh) charged and discharged by each microgrid's batteries, in the billing report's shape."""
    return _microgrids_report(user, conn, useruuid, now, money=False)
