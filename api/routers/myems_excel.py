"""xlsx workbooks of the MyEMS reports (issue 14), returned base64 in ``excel_bytes_base64`` as MyEMS does.

One way to write a workbook (``workbook_base64``: rows into one sheet); the reports' own layouts:

* ``meter_batch_base64``: the space and the period, then one row per meter, one column per day (kWh)
  and the subtotal.
* ``energy_report_base64`` (``reports/meterenergy`` and ``reports/virtualmeterenergy``): the name, the
  period type and the reporting period as given (local ``YYYY-MM-DDTHH:MM:SS``); the reporting period's
  totals (kWh, t of standard coal = kgce / 1000, t CO2e = kgco2e / 1000) and increment rate (a ratio,
  ``-`` without a base); the time-of-use split (kWh) where the report has it; then one row per period:
  the reporting period's kWh and the base period's kWh at the same index (as MyEMS lines them up), and
  the totals. Figures are the report's own, unrounded; consumption positive, production negative.

The reports' size limits bound the rows; the workbook is built in memory.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterable, Sequence

import openpyxl

PEAK_TYPES = (("toppeak", "Top peak (kWh)"), ("onpeak", "On peak (kWh)"),
              ("midpeak", "Mid peak (kWh)"), ("offpeak", "Off peak (kWh)"))  # fmt: skip


def workbook_base64(sheet_title: str, rows: Iterable[Sequence]) -> str:
    """An xlsx workbook of one sheet named ``sheet_title`` holding ``rows`` (one list per row), base64."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = sheet_title
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    workbook.save(out)
    return base64.b64encode(out.getvalue()).decode()


def meter_batch_base64(result: dict, space_name: str, start: str, end: str) -> str:
    """The meter batch report (one row per meter, one column per day, kWh), base64."""
    header = ["Meter", "Space", "Cost center", "Energy category", *result["date_list"], "Subtotal (kWh)"]
    meters = (
        [m["meter_name"], m["space_name"], m["cost_center_name"], m["energy_category_name"],
         *[d["value"] for d in m["daily_values"]], m["subtotal"]]
        for m in result["meters"]
    )  # fmt: skip
    return workbook_base64("Meter Batch", [[space_name, start, end], header, *meters])


def energy_report_base64(
    sheet_title: str, name: str, category: dict, report: dict, period_type: str, start: str, end: str
) -> str:
    """A meter's or virtual meter's energy report: ``category`` its ``energy_category_name`` and
    ``unit_of_measure``; ``report`` the JSON's ``base_period`` and ``reporting_period``."""
    reporting, base = report["reporting_period"], report["base_period"]
    quantity = f"{category['energy_category_name']} ({category['unit_of_measure']})"
    rate = reporting["increment_rate"]
    rows: list[list] = [
        ["Name", name, "Period type", period_type],
        ["Reporting start", start, "Reporting end", end],
        [],
        ["", quantity, "Ton of standard coal (TCE)", "Ton of carbon dioxide emissions (TCO2E)"],
        ["Consumption", reporting["total_in_category"], reporting["total_in_kgce"] / 1000,
         reporting["total_in_kgco2e"] / 1000],
        ["Increment rate", "-" if rate is None else rate],
    ]  # fmt: skip
    rows += [[label, reporting[key]] for key, label in PEAK_TYPES if key in reporting]
    base_values = base["values"]
    rows += [[], ["Datetime", f"Reporting period - {quantity}", f"Base period - {quantity}"]]
    rows += [
        [timestamp, value, base_values[i] if i < len(base_values) else None]
        for i, (timestamp, value) in enumerate(zip(reporting["timestamps"], reporting["values"], strict=True))
    ]
    rows.append(["Total", reporting["total_in_category"], base["total_in_category"]])
    return workbook_base64(sheet_title, rows)
