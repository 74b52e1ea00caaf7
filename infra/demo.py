"""The demo account: a charge site with EVSEs, real charging load and NL day-ahead prices.

Idempotent: running it again finds the demo account and changes nothing. The load and price
slices ship in ``infra/demo_data`` (see its README for provenance).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from commands import registry as cmd
from commands.context import CommandContext
from infra.importer import import_readings
from infra.shared_data import acn_site_sessions, load_nl_day_ahead_prices, uncontrolled_load_kw

DEMO_DATA = Path(__file__).parent / "demo_data"
DEMO_ACCOUNT = "Demo Charging Co"
DEMO_EMAIL = "demo@flexledger.io"
DEMO_PASSWORD = "flexledger-demo"
LOAD_CSV = DEMO_DATA / "caltech_load_15min.csv"
PRICES_CSV = DEMO_DATA / "nl_day_ahead_prices.csv"


@dataclass(frozen=True)
class DemoIds:
    account_id: int
    site_asset_id: int
    site_power_sensor_id: int
    price_sensor_id: int


def seed_demo(ctx: CommandContext, existing_account_id: int | None = None) -> DemoIds | None:
    """Create the demo account, users, assets and data; ``None`` when it already exists."""
    if existing_account_id is not None:
        return None
    account_id = cmd.register_account(ctx, cmd.RegisterAccount(name=DEMO_ACCOUNT, roles=["Prosumer"]))
    cmd.register_user(
        ctx, cmd.RegisterUser(email=DEMO_EMAIL, password=DEMO_PASSWORD, account_id=account_id, roles=["admin"])
    )
    site = cmd.register_asset(
        ctx,
        cmd.RegisterAsset(
            account_id=account_id,
            name="Caltech garage (demo)",
            asset_type="charge_site",
            latitude=34.1377,
            longitude=-118.1253,
        ),
    )
    site_power = _sensor(ctx, site, "power", "kW", 900, "America/Los_Angeles")
    for number in range(1, 5):
        evse = cmd.register_asset(
            ctx,
            cmd.RegisterAsset(
                account_id=account_id, name=f"EVSE {number}", asset_type="one-way_evse", parent_asset_id=site,
                attributes={"simulated": {"device_id": f"demo-evse-{number}"}},  # commandable in the demo
            ),
        )
        _sensor(ctx, evse, "power", "kW", 900, "America/Los_Angeles")
    market = cmd.register_asset(ctx, cmd.RegisterAsset(account_id=account_id, name="NL day-ahead", asset_type="market"))
    prices = _sensor(ctx, market, "day-ahead prices", "EUR/MWh", 3600, "Europe/Amsterdam")
    import_readings(ctx, site_power, LOAD_CSV, source="ACN-Data (derived)")
    import_readings(ctx, prices, PRICES_CSV, source="ENTSO-E day-ahead (via ROBUST-NL)")
    return DemoIds(account_id, site, site_power, prices)


def _sensor(ctx: CommandContext, asset_id: int, name: str, unit: str, resolution_s: int, timezone: str) -> int:
    return cmd.register_sensor(
        ctx,
        cmd.RegisterSensor(asset_id=asset_id, name=name, unit=unit, event_resolution_s=resolution_s, timezone=timezone),
    )


def regenerate_slices(data_dir: Path) -> None:
    """Rewrite the shipped slices from ``../shared/data`` (3 weeks of each)."""
    start = datetime(2019, 10, 7, tzinfo=UTC)
    step = timedelta(minutes=15)
    load = uncontrolled_load_kw(acn_site_sessions(data_dir, "caltech"), start, start + timedelta(days=21), step)
    with LOAD_CSV.open("w") as out:
        out.write("datetime,power_kw\n")
        out.writelines(f"{(start + i * step).isoformat()},{v:.3f}\n" for i, v in enumerate(load))
    times, prices = load_nl_day_ahead_prices(data_dir)
    price_start = datetime(2022, 10, 3, tzinfo=UTC)
    with PRICES_CSV.open("w") as out:
        out.write("datetime,price_eur_per_mwh\n")
        for moment, price in zip(times, prices, strict=True):
            if price_start <= moment < price_start + timedelta(days=21):
                out.write(f"{moment.astimezone(UTC).isoformat()},{price}\n")
