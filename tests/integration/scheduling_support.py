"""Harness shared by the scheduling integration tests (``test_scheduling_*.py``); no tests here.

:class:`SchedulingHarness` builds a real embedded platform (SQLite event store and read models by
default, or PostgreSQL), seeds a small charging world through the command handlers, and serves
``api.app.create_app`` through Starlette's ``TestClient``. The world (:class:`World`):

* account "Alpha" (Prosumer) with user alice: a ``market`` asset with a ``prices`` sensor
  (EUR/MWh, hourly; prices for 2015-06-01 .. 2015-06-05 UTC: 30 at night, 80 by day); a ``site``
  (charge site; flex-context: those prices, site power capacity 25 kW) with two devices below
  it: ``battery`` (100 kWh, 20 kW; sensor "power", kW, 15 min, Europe/Amsterdam) and ``evse``
  (one-way EVSE, 60 kWh, 11 kW charging only; sensor "power"); a ``building`` with a power sensor
  (not a device); a ``bare`` site without flex-context holding ``bare-battery``.
* account "Beta" with user bob and a ``battery`` of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.app import create_app
from commands import registry as cmd
from commands.context import CommandContext
from commands.readings import RecordSensorData, record_sensor_data
from infra.bootstrap import Platform, build_platform
from infra.settings import Settings

PASSWORD = "correct horse battery"
ALICE, BOB = "alice@alpha.test", "bob@beta.test"
PRICE_START = datetime(2015, 6, 1, tzinfo=UTC)
PRICE_DAYS = 5
DAY = datetime(2015, 6, 2, 10, tzinfo=UTC)
"""10:00 UTC on a day with prices (12:00 in Amsterdam)."""


def hourly_prices(days: int = PRICE_DAYS) -> list[float]:
    """EUR/MWh per hour from PRICE_START: 30 from 22:00 to 06:00 UTC, 80 otherwise."""
    return [30.0 if (h % 24) >= 22 or (h % 24) < 6 else 80.0 for h in range(24 * days)]


@dataclass
class World:
    accounts: dict[str, int] = field(default_factory=dict)
    assets: dict[str, int] = field(default_factory=dict)
    sensors: dict[str, int] = field(default_factory=dict)


def _asset(ctx: CommandContext, world: World, key: str, account: str, asset_type: str, **fields: Any) -> int:
    world.assets[key] = cmd.register_asset(
        ctx, cmd.RegisterAsset(account_id=world.accounts[account], name=key, asset_type=asset_type, **fields)
    )
    return world.assets[key]


def _sensor(ctx: CommandContext, world: World, asset: str, name: str, unit: str, resolution_s: int = 900) -> int:
    world.sensors[f"{asset}/{name}"] = cmd.register_sensor(
        ctx,
        cmd.RegisterSensor(
            asset_id=world.assets[asset], name=name, unit=unit, event_resolution_s=resolution_s,
            timezone="Europe/Amsterdam",
        ),
    )  # fmt: skip
    return world.sensors[f"{asset}/{name}"]


def seed_world(ctx: CommandContext) -> World:
    world = World()
    world.accounts["Alpha"] = cmd.register_account(ctx, cmd.RegisterAccount(name="Alpha", roles=["Prosumer"]))
    world.accounts["Beta"] = cmd.register_account(ctx, cmd.RegisterAccount(name="Beta"))
    for email, account in ((ALICE, "Alpha"), (BOB, "Beta")):
        cmd.register_user(ctx, cmd.RegisterUser(email=email, password=PASSWORD, account_id=world.accounts[account]))
    _asset(ctx, world, "market", "Alpha", "market")
    prices = _sensor(ctx, world, "market", "prices", "EUR/MWh", 3600)
    context = {"consumption-price": {"sensor": prices}, "site-power-capacity": "25 kW"}
    site = _asset(ctx, world, "site", "Alpha", "charge_site", flex_context=context)
    battery_model = {"soc-max": "100 kWh", "soc-min": "0 kWh", "power-capacity": "20 kW"}
    _asset(ctx, world, "battery", "Alpha", "battery", parent_asset_id=site, flex_model=battery_model)
    _sensor(ctx, world, "battery", "power", "kW")
    evse_model = {"soc-max": "60 kWh", "consumption-capacity": "11 kW", "production-capacity": "0 kW"}
    _asset(ctx, world, "evse", "Alpha", "one-way_evse", parent_asset_id=site, flex_model=evse_model)
    _sensor(ctx, world, "evse", "power", "kW")
    _asset(ctx, world, "building", "Alpha", "building", parent_asset_id=site)
    _sensor(ctx, world, "building", "power", "kW")
    bare = _asset(ctx, world, "bare", "Alpha", "charge_site")
    _asset(ctx, world, "bare-battery", "Alpha", "battery", parent_asset_id=bare, flex_model=battery_model)
    _sensor(ctx, world, "bare-battery", "power", "kW")
    _asset(ctx, world, "beta-battery", "Beta", "battery", flex_model=battery_model)
    _sensor(ctx, world, "beta-battery", "power", "kW")
    record_sensor_data(
        ctx,
        RecordSensorData(
            sensor_id=prices, start=PRICE_START, duration=timedelta(days=PRICE_DAYS), values=hourly_prices(),
            unit="EUR/MWh", source="market operator",
        ),
    )  # fmt: skip
    return world


class SchedulingHarness:
    """A platform with the seeded world, served in process; ``close()`` when done."""

    def __init__(self, home: Path, scheduler: bool = True, **settings: Any):
        values = {"home": home, "bcrypt_rounds": 4, **settings}
        self.platform: Platform = build_platform(Settings(**values))
        if not scheduler:  # projections run, triggers stay pending
            self.platform.processors = [p for p in self.platform.processors if p.name != "scheduler"]
        self.world = seed_world(self.platform.commands)
        self.client = TestClient(create_app(self.platform))
        self.client.__enter__()  # runs the lifespan: starts the embedded runner (if enabled)
        self.wait_projected()
        self.tokens: dict[str, str] = {}

    def wait_projected(self) -> None:
        if self.platform.runner is not None:
            assert self.platform.wait_for(self.platform.store.head_position(), timeout_s=30)

    def settle(self) -> None:
        """Wait until the scheduler finished every trigger (its beliefs and job ends follow the outcome)
        and every read model holds what it appended (embedded processors follow the store
        independently: the schedules projection may be ahead of the readings projection)."""
        while True:
            head = self.head
            assert self.platform.wait_for(head, ["scheduler"], timeout_s=30)
            if self.head == head:
                assert self.platform.wait_for(head, timeout_s=30)
                return

    def headers(self, email: str = ALICE) -> dict[str, str]:
        if email not in self.tokens:
            response = self.client.post("/api/requestAuthToken", json={"email": email, "password": PASSWORD})
            assert response.status_code == 200, response.text
            self.tokens[email] = response.json()["auth_token"]
        return {"Authorization": self.tokens[email]}

    @property
    def head(self) -> int:
        return self.platform.store.head_position()

    def address(self, asset: str, event_id: int, event_type: str = "soc-with-targets", owner: str = "Alpha") -> str:
        owner_id, asset_id = self.world.accounts[owner], self.world.assets[asset]
        return f"ea1.2018-06.io.flexmeasures.company:{owner_id}:{asset_id}:{event_id}:{event_type}"

    def udi_message(self, asset: str = "battery", event_id: int = 1, **fields: Any) -> dict:
        message = {
            "type": "PostUdiEventRequest",
            "event": self.address(asset, event_id),
            "value": 12.1,
            "unit": "kWh",
            "datetime": DAY.isoformat(),
            "targets": [{"value": 60, "datetime": (DAY + timedelta(hours=6)).isoformat()}],
        }
        message.update(fields)
        return {k: v for k, v in message.items() if v is not None}

    def post_udi(self, message: dict, email: str = ALICE):
        return self.client.post("/api/v2_0/postUdiEvent", json=message, headers=self.headers(email))

    def device_message(self, event: str, email: str = ALICE, **params: Any):
        query = {"type": "GetDeviceMessageRequest", "event": event, **params}
        return self.client.get("/api/v2_0/getDeviceMessage", params=query, headers=self.headers(email))

    def read(self, query) -> list[dict]:
        with self.platform.read_models.read_engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def table(self, table: sa.Table, order_by: list) -> list[dict]:
        return self.read(sa.select(table).order_by(*order_by))

    def close(self) -> None:
        self.client.__exit__(None, None, None)
        self.platform.close()
