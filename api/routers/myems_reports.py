"""MyEMS reports under ``/myems`` (issue 14), computed from the platform's read models.

* ``GET /myems/reports/meterenergy?meterid=|meteruuid=&periodtype=hourly|daily|weekly|monthly|yearly
  &baseperiodstartdatetime=&baseperiodenddatetime=&reportingperiodstartdatetime=&reportingperiodenddatetime=``
  (local times ``YYYY-MM-DDTHH:MM:SS`` in the meter's time zone) -> MyEMS' ``meter``, ``base_period``,
  ``reporting_period`` and ``parameters``: energy (kWh) per period from the latest belief of each
  reading; ``toppeak``..``offpeak``: kWh in each peak type of the account's time-of-use tariffs
  (the first valid at each reading; 0 without one). ``excel_bytes_base64``: the report as an xlsx
  workbook (``api.routers.myems_excel``), absent with ``quickmode=true``, as MyEMS does.
* ``GET /myems/reports/virtualmeterenergy`` (the same parameters, ``virtualmeterid``): likewise, with the
  same xlsx rule.
* ``GET /myems/reports/meterbatch``: the xlsx only with ``exportexcel=true`` and without ``quickmode``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi import APIRouter

from api.deps import ReadConn
from api.errors import ApiError
from api.myems import PREFIX, MyEmsRoute, MyEmsUser
from api.routers import myems_carbon as cb
from api.routers import myems_excel as xl
from api.routers.myems_meter_fields import meter_uuid, visible_meter
from api.routers.myems_virtual_meters import visible_virtual_meter
from api.validation import Id, id_from_text
from domain import myems_meters as mm
from domain import tariffs as tf
from projections import myems_cost_centers as ccq
from projections import myems_virtual_meters as vq
from projections import readings_query as rdq
from projections import registry_query as rq

router = APIRouter(prefix=PREFIX, tags=["MyEMS reports"], route_class=MyEmsRoute)
MAX_REPORT_DAYS = 800  # bounded work: at most ~2 years of 15-minute readings per period


def _local(text: str | None, tz: ZoneInfo, name: str, required: bool) -> datetime | None:
    if text is None or not text.strip():
        if required:
            raise ApiError(400, f"API.INVALID_{name.upper()}", f"{name.lower()} is required", name.lower())
        return None
    try:
        return datetime.strptime(text.strip(), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=tz)
    except ValueError as exc:
        raise ApiError(
            400, f"API.INVALID_{name.upper()}", f"{name.lower()}: YYYY-MM-DDTHH:MM:SS", name.lower()
        ) from exc


def _period(start: datetime | None, end: datetime | None, name: str) -> tuple[datetime, datetime] | None:
    if start is None or end is None:
        return None
    if start >= end or end - start > timedelta(days=MAX_REPORT_DAYS):
        raise ApiError(
            400,
            f"API.INVALID_{name}_PERIOD_END_DATETIME",
            f"the {name.lower()} period must end after it starts, within {MAX_REPORT_DAYS} days",
            f"{name.lower()}periodenddatetime",
        )
    return start, end


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("true", "t", "on", "yes", "y")


def reporting_text(value: str | None) -> str:
    """A period bound as the request gave it (validated by ``report_periods``), for the workbook."""
    return (value or "").strip()


def check_period_type(periodtype: str | None) -> None:
    if periodtype not in mm.PERIOD_TYPES:
        raise ApiError(
            400, "API.INVALID_PERIOD_TYPE", f"periodtype is one of {', '.join(mm.PERIOD_TYPES)}", "periodtype"
        )


def report_periods(
    tz: ZoneInfo, base_start: str | None, base_end: str | None, start: str | None, end: str | None
) -> tuple[tuple[datetime, datetime] | None, tuple[datetime, datetime]]:
    """The optional base period and the required reporting period (local times in ``tz``)."""
    base = _period(
        _local(base_start, tz, "BASE_PERIOD_START_DATETIME", False),
        _local(base_end, tz, "BASE_PERIOD_END_DATETIME", False),
        "BASE",
    )
    reporting = _period(
        _local(start, tz, "REPORTING_PERIOD_START_DATETIME", True),
        _local(end, tz, "REPORTING_PERIOD_END_DATETIME", True),
        "REPORTING",
    )
    return base, reporting


def readings_kwh(conn: ReadConn, sensor: dict, period: tuple[datetime, datetime] | None) -> list[tuple[int, float]]:
    """(event start epoch s, kWh) of the meter's latest beliefs in the period."""
    if period is None:
        return []
    factor = mm.kwh_factor(sensor["unit"], sensor["event_resolution_s"])
    raw = rdq.latest_values(conn, sensor["id"], int(period[0].timestamp()), int(period[1].timestamp()), rdq.MEASURED)
    return [(start_s, value * factor) for start_s, value in sorted(raw.items())]


def _series(readings: list[tuple[int, float]], period_type: str, tz: ZoneInfo, kgco2e: float | None = None) -> dict:
    """Energy per period and totals; ``kgco2e``: the carbon from a carbon-intensity sensor, else
    the total times the category's emission factor."""
    by_period = mm.energy_by_period(readings, period_type, tz)
    values = [kwh for _, kwh in by_period]
    category = mm.ENERGY_CATEGORIES[mm.ELECTRICITY]
    total = round(sum(values), 6)
    return {
        "total_in_category": total,
        "total_in_kgce": round(total * category["kgce"], 6),
        "total_in_kgco2e": round(total * category["kgco2e"] if kgco2e is None else kgco2e, 6),
        "timestamps": [label for label, _ in by_period],
        "values": values,
    }


def _peaks(conn: ReadConn, sensor: dict, readings: list[tuple[int, float]]) -> dict[str, float]:
    """kWh per peak type under the time-of-use tariffs bound to the meter's cost center (its account)."""
    bound = ccq.bound_tariffs(conn, sensor["account_id"])
    definitions = [tf.TariffDefinition.model_validate(t["definition"]) for t in bound]
    return tf.energy_by_peak_type([(datetime.fromtimestamp(s, UTC), kwh) for s, kwh in readings], definitions)


def _meter(conn: ReadConn, user: MyEmsUser, meterid: str | None, meteruuid: str | None) -> dict:
    if meterid is not None:
        meter_id = id_from_text(meterid.strip())
        if meter_id is None:
            raise ApiError(400, "API.INVALID_METER_ID", "meterid is a positive integer", "meterid")
        return visible_meter(conn, user, meter_id)
    if meteruuid is None:
        raise ApiError(400, "API.INVALID_METER_ID", "name the meter (meterid or meteruuid)", "meterid")
    account = None if user.can_read_all else user.account_id
    for sensor in rq.list_sensors(conn, account_id=account):
        if mm.is_meter_unit(sensor["unit"]) and meter_uuid(sensor) == meteruuid.strip().lower():
            return sensor
    raise ApiError(404, "API.METER_NOT_FOUND", f"no meter {meteruuid}", "meteruuid")


def _with_workbook(
    result: dict,
    quickmode: str | None,
    sheet: str,
    name: str,
    subject: str,
    period_type: str,
    period: tuple[str | None, str | None],
) -> dict:
    """``result`` with MyEMS' ``excel_bytes_base64`` (the energy report as xlsx) unless ``quickmode``;
    ``subject``: the result's key of the (virtual) meter's energy category."""
    if not _flag(quickmode):
        result["excel_bytes_base64"] = xl.energy_report_base64(
            sheet, name, result[subject], result, period_type, reporting_text(period[0]), reporting_text(period[1])
        )
    return result


@router.get("/reports/meterenergy")
def meter_energy(
    user: MyEmsUser,
    conn: ReadConn,
    periodtype: str | None = None,
    meterid: str | None = None,
    meteruuid: str | None = None,
    baseperiodstartdatetime: str | None = None,
    baseperiodenddatetime: str | None = None,
    reportingperiodstartdatetime: str | None = None,
    reportingperiodenddatetime: str | None = None,
    quickmode: str | None = None,
    carbonintensitysensorid: Id | None = None,
) -> dict:
    """A meter's energy (kWh) per period (``periodtype``) over the base and reporting periods, split by
    the account's time-of-use peak types; ``total_in_kgco2e`` from the category's emission factor or
    the readings of ``carbonintensitysensorid`` (flexledger's extension)."""
    check_period_type(periodtype)
    sensor = _meter(conn, user, meterid, meteruuid)
    tz = ZoneInfo(sensor["timezone"] or "UTC")
    base, reporting = report_periods(
        tz, baseperiodstartdatetime, baseperiodenddatetime, reportingperiodstartdatetime, reportingperiodenddatetime
    )
    category = mm.ENERGY_CATEGORIES[mm.ELECTRICITY]
    base_readings, reporting_readings = readings_kwh(conn, sensor, base), readings_kwh(conn, sensor, reporting)

    def carbon(readings: list[tuple[int, float]], period: tuple[datetime, datetime] | None) -> float | None:
        return cb.carbon_of_energy(conn, sensor["account_id"], carbonintensitysensorid, readings,
                                   sensor["event_resolution_s"], period)  # fmt: skip

    base_series = _series(base_readings, periodtype, tz, carbon(base_readings, base))
    reporting_series = _series(reporting_readings, periodtype, tz, carbon(reporting_readings, reporting))
    base_total = base_series["total_in_category"]
    increment = (reporting_series["total_in_category"] - base_total) / base_total if base_total > 0 else None
    result = {
        "meter": {
            "cost_center_id": sensor["account_id"],
            "energy_category_id": mm.ELECTRICITY,
            "energy_category_name": category["name"],
            "unit_of_measure": category["unit_of_measure"],
            "kgce": category["kgce"],
            "kgco2e": category["kgco2e"],
        },
        "base_period": base_series,
        "reporting_period": {
            "increment_rate": increment,
            **reporting_series,
            **_peaks(conn, sensor, reporting_readings),
        },
        "parameters": {"names": [], "timestamps": [], "values": []},
    }
    period = (reportingperiodstartdatetime, reportingperiodenddatetime)
    return _with_workbook(result, quickmode, "MeterEnergy", sensor["name"], "meter", periodtype, period)


@router.get("/reports/virtualmeterenergy")
def virtual_meter_energy(
    user: MyEmsUser,
    conn: ReadConn,
    periodtype: str | None = None,
    virtualmeterid: Id | None = None,
    baseperiodstartdatetime: str | None = None,
    baseperiodenddatetime: str | None = None,
    reportingperiodstartdatetime: str | None = None,
    reportingperiodenddatetime: str | None = None,
    quickmode: str | None = None,
    carbonintensitysensorid: Id | None = None,
) -> dict:
    """MyEMS' virtual meter energy report (local times in UTC): the projection's values per period;
    ``total_in_kgco2e`` from the emission factor or the ``carbonintensitysensorid`` reading at each
    value's start (flexledger's extension)."""
    check_period_type(periodtype)
    if virtualmeterid is None:
        raise ApiError(400, "API.INVALID_VIRTUAL_METER_ID", "virtualmeterid is required", "virtualmeterid")
    row = visible_virtual_meter(conn, user, virtualmeterid)
    tz = ZoneInfo("UTC")
    base, reporting = report_periods(
        tz, baseperiodstartdatetime, baseperiodenddatetime, reportingperiodstartdatetime, reportingperiodenddatetime
    )

    def values(period: tuple[datetime, datetime] | None) -> list[tuple[int, float]]:
        if period is None:
            return []
        return vq.values_kwh(conn, row["id"], int(period[0].timestamp()), int(period[1].timestamp()))

    category = mm.ENERGY_CATEGORIES[mm.ELECTRICITY]

    def series(period: tuple[datetime, datetime] | None) -> dict:
        found = values(period)
        kg = cb.carbon_of_energy(conn, row["account_id"], carbonintensitysensorid, found, 0, period)
        return _series(found, periodtype, tz, kg)

    base_series, reporting_series = series(base), series(reporting)
    base_total = base_series["total_in_category"]
    result = {
        "virtual_meter": {
            "cost_center_id": row["account_id"],
            "energy_category_id": mm.ELECTRICITY,
            "energy_category_name": category["name"],
            "unit_of_measure": category["unit_of_measure"],
            "kgce": category["kgce"],
            "kgco2e": category["kgco2e"],
        },
        "base_period": base_series,
        "reporting_period": {
            "increment_rate": (reporting_series["total_in_category"] - base_total) / base_total
            if base_total > 0
            else None,
            **reporting_series,
        },
    }
    period = (reportingperiodstartdatetime, reportingperiodenddatetime)
    return _with_workbook(result, quickmode, "VirtualMeterEnergy", row["name"], "virtual_meter", periodtype, period)


@router.get("/reports/meterbatch")
def meter_batch(
    user: MyEmsUser,
    conn: ReadConn,
    spaceid: str | None = None,
    reportingperiodstartdatetime: str | None = None,
    reportingperiodenddatetime: str | None = None,
    language: str | None = None,
    quickmode: str | None = None,
    exportexcel: str | None = None,
) -> dict:
    """MyEMS' meter batch report: every meter of the space with its energy (kWh) per local day of the
    reporting period (UTC local times). A MyEMS space is the account here (``spaceid`` = account id,
    like ``cost_center_id``); the meters are the account's meters (offline meters included)."""
    space_id = id_from_text((spaceid or "").strip())
    if space_id is None:
        raise ApiError(400, "API.INVALID_SPACE_ID", "spaceid is a positive integer", "spaceid")
    account = rq.account_by_id(conn, space_id)
    if account is None or (account["id"] != user.account_id and not user.can_read_all):
        raise ApiError(404, "API.SPACE_NOT_FOUND", f"no space {spaceid}", "spaceid")
    tz = ZoneInfo("UTC")
    start, end = report_periods(tz, None, None, reportingperiodstartdatetime, reportingperiodenddatetime)[1]
    days, day = [], start.replace(hour=0, minute=0, second=0)
    while day < end:
        days.append(day.strftime("%Y-%m-%d"))
        day += timedelta(days=1)
    category = mm.ENERGY_CATEGORIES[mm.ELECTRICITY]
    meters = []
    for sensor in (s for s in rq.list_sensors(conn, account_id=account["id"]) if mm.is_meter_unit(s["unit"])):
        daily = dict(mm.energy_by_period(readings_kwh(conn, sensor, (start, end)), "daily", tz))
        subtotal = round(sum(daily.values()), 6) if daily else None
        meters.append(
            {
                "id": sensor["id"],
                "meter_name": sensor["name"],
                "energy_category_name": category["name"],
                "uuid": meter_uuid(sensor),
                "space_name": account["name"],
                "cost_center_name": account["name"],
                "values": [subtotal],
                "daily_values": [{"date": d, "value": daily.get(d)} for d in days],
                "subtotal": subtotal,
            }
        )
    result = {
        "meters": meters,
        "energycategories": [
            {"id": mm.ELECTRICITY, "name": category["name"], "unit_of_measure": category["unit_of_measure"]}
        ],
        "date_list": days,
        "excel_bytes_base64": None,
        "pdf_bytes_base64": None,
        "docx_bytes_base64": None,
    }
    if _flag(exportexcel) and not _flag(quickmode):
        result["excel_bytes_base64"] = xl.meter_batch_base64(
            result, account["name"], reporting_text(reportingperiodstartdatetime),
            reporting_text(reportingperiodenddatetime))  # fmt: skip
    return result
