"""The demo account: a charge site with four EVSEs, real charging load and NL day-ahead prices.

What ``flexledger demo`` loads (idempotent: run again, it finds the demo account and changes
nothing):

* "NL day-ahead market" with the sensor "NL day-ahead price" (EUR/MWh, hourly).
* "Caltech garage (demo)", a charge site whose flex-context names those prices (and a 40 kW
  site capacity), with the sensor "garage charging load" (kW, 15 min, forecast by the
  forecaster: ``{"forecasting": {"horizon": "PT48H", "country": "US"}}``).
* Four one-way EVSEs ("EVSE CA-xxx"), each with its own load sensor ("EVSE CA-xxx charging
  load", kW, 15 min) and a flex-model (60 kWh, 6.6 kW charging, no discharging).
* Three weeks of real data (``infra/demo_data``, provenance in its README), **moved in time**
  by a whole number of weeks so that they end at the most recent Monday 00:00 UTC (weekdays
  keep their shape; prices and load cover the same weeks).
* One schedule for the first EVSE over the last day of data (:func:`schedule_demo_evse`), and
  the site's forecasts, computed by the platform's own scheduler and forecaster while
  ``flexledger demo`` runs them to the end of the event store.

Power is consumption-positive (USEF).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from commands import registry as cmd
from commands.context import CommandContext
from commands.import_readings import import_rows
from commands.scheduling import TriggerSchedule, trigger_schedule
from infra.importer import file_digest, import_readings

DEMO_DATA = Path(__file__).parent / "demo_data"
DEMO_ACCOUNT = "Demo Charging Co"
DEMO_EMAIL = "demo@flexledger.io"
DEMO_PASSWORD = "flexledger-demo"
LOAD_CSV = DEMO_DATA / "caltech_load_15min.csv"
EVSE_LOAD_CSV = DEMO_DATA / "caltech_evse_load_15min.csv"
PRICES_CSV = DEMO_DATA / "nl_day_ahead_prices.csv"
SLICE_DAYS = 21
LOAD_SLICE_START = datetime(2019, 10, 7, tzinfo=UTC)  # a Monday
PRICE_SLICE_START = datetime(2022, 10, 3, tzinfo=UTC)  # a Monday
EVSE_FLEX_MODEL = {
    "soc-max": "60 kWh", "soc-min": "0 kWh", "consumption-capacity": "6.6 kW", "production-capacity": "0 kW",
}  # fmt: skip
SITE_FLEX_CONTEXT_CAPACITY = "40 kW"
LOAD_TZ = "America/Los_Angeles"


@dataclass(frozen=True)
class DemoIds:
    account_id: int
    site_asset_id: int
    site_power_sensor_id: int
    price_sensor_id: int
    first_evse_asset_id: int
    evse_sensor_ids: tuple[int, ...]
    data_start: datetime
    data_end: datetime
    site_flex_context: dict


def demo_window(today: datetime) -> tuple[datetime, datetime]:
    """The demo's three weeks, [start, end): ending at the most recent Monday 00:00 UTC on or before ``today``."""
    day = datetime(today.year, today.month, today.day, tzinfo=UTC)
    end = day - timedelta(days=day.weekday())
    return end - timedelta(days=SLICE_DAYS), end


def seed_demo(
    ctx: CommandContext, existing_account_id: int | None = None, today: datetime | None = None
) -> DemoIds | None:
    """Create the demo account, users, assets and data; ``None`` when it already exists."""
    if existing_account_id is not None:
        return None
    start, end = demo_window(today or datetime.now(UTC))
    account_id = cmd.register_account(ctx, cmd.RegisterAccount(name=DEMO_ACCOUNT, roles=["Prosumer"]))
    cmd.register_user(
        ctx, cmd.RegisterUser(email=DEMO_EMAIL, password=DEMO_PASSWORD, account_id=account_id, roles=["admin"])
    )
    site = _asset(ctx, account_id, "Caltech garage (demo)", "charge_site", latitude=34.1377, longitude=-118.1253)
    forecasting = {"forecasting": {"horizon": "PT48H", "country": "US"}}
    site_load = _sensor(ctx, site, "garage charging load", "kW", 900, LOAD_TZ, forecasting)
    stations = _evse_columns()
    evses = [
        _asset(
            ctx, account_id, f"EVSE {s}", "one-way_evse", parent_asset_id=site, flex_model=EVSE_FLEX_MODEL,
            attributes={"simulated": {"device_id": f"demo-evse-{s}"}},  # commandable in the demo (simulated device)
        )
        for s in stations
    ]
    evse_sensors = [
        _sensor(ctx, a, f"EVSE {s} charging load", "kW", 900, LOAD_TZ) for a, s in zip(evses, stations, strict=True)
    ]
    market = _asset(ctx, account_id, "NL day-ahead market", "market")
    prices = _sensor(ctx, market, "NL day-ahead price", "EUR/MWh", 3600, "Europe/Amsterdam")
    context = {"consumption-price": {"sensor": prices}, "site-power-capacity": SITE_FLEX_CONTEXT_CAPACITY}
    cmd.change_asset(ctx, cmd.ChangeAsset(asset_id=site, changes={"flex_context": context}))
    load_shift, price_shift = start - LOAD_SLICE_START, start - PRICE_SLICE_START
    import_readings(ctx, site_load, LOAD_CSV, source="ACN-Data (derived)", shift=load_shift)
    for column, sensor in zip(stations, evse_sensors, strict=True):
        rows, digest = _evse_rows(column)
        import_rows(ctx, sensor, rows, digest, source="ACN-Data (derived)", shift=load_shift)
    import_readings(ctx, prices, PRICES_CSV, source="ENTSO-E day-ahead (via ROBUST-NL)", shift=price_shift)
    return DemoIds(account_id, site, site_load, prices, evses[0], tuple(evse_sensors), start, end, context)


def schedule_demo_evse(ctx: CommandContext, ids: DemoIds) -> None:
    """One schedule for the first EVSE over the last day of data: from 10 kWh to 50 kWh by 17:00 UTC.

    Call it once the read models hold the demo's registry (the scheduler checks the sensors).
    """
    start = ids.data_end - timedelta(days=1)
    model = {
        **EVSE_FLEX_MODEL, "sensor": ids.evse_sensor_ids[0], "soc-at-start": "10 kWh",
        "soc-targets": [{"datetime": (start + timedelta(hours=17)).isoformat(), "value": "50 kWh"}],
    }  # fmt: skip
    trigger_schedule(
        ctx,
        TriggerSchedule(
            asset_id=ids.first_evse_asset_id, sensor_id=ids.evse_sensor_ids[0], start=start,
            duration=timedelta(days=1), resolution=timedelta(minutes=15), flex_model=[model],
            flex_context=ids.site_flex_context,
        ),
    )  # fmt: skip


def _asset(ctx: CommandContext, account_id: int, name: str, asset_type: str, **fields) -> int:
    return cmd.register_asset(
        ctx, cmd.RegisterAsset(account_id=account_id, name=name, asset_type=asset_type, **fields)
    )


def _sensor(
    ctx: CommandContext, asset_id: int, name: str, unit: str, resolution_s: int, timezone: str, attributes=None
) -> int:
    return cmd.register_sensor(
        ctx,
        cmd.RegisterSensor(
            asset_id=asset_id, name=name, unit=unit, event_resolution_s=resolution_s, timezone=timezone,
            attributes=attributes or {},
        ),
    )  # fmt: skip


def _evse_columns() -> list[str]:
    with EVSE_LOAD_CSV.open(newline="") as handle:
        return next(csv.reader(handle))[1:]


def _evse_rows(column: str) -> tuple[list[tuple[datetime, float]], str]:
    """One EVSE's (start, kW) rows of the shipped per-EVSE slice, and a digest naming them."""
    with EVSE_LOAD_CSV.open(newline="") as handle:
        rows = [(datetime.fromisoformat(row["datetime"]), float(row[column])) for row in csv.DictReader(handle)]
    return rows, f"{file_digest(EVSE_LOAD_CSV)}:{column}"
