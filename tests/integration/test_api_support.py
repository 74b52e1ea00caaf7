"""Harness shared by the API integration tests (``test_api_*.py``); it holds no tests itself.

:class:`ApiHarness` builds a real embedded platform (SQLite event store and read models,
in-process log and runner) in a temporary folder, seeds accounts, users, assets and sensors
through the command handlers, and serves ``api.app.create_app`` through Starlette's
``TestClient`` (real HTTP semantics, in process). Seeded world (:class:`World`):

* account "Alpha" (USEF role Prosumer): users alice and carol; assets ``CS 1`` (one-way EVSE,
  sensor "power" kW, 15 min), ``CS 2`` and ``CS 3`` (charge sites, "power" kW / MW, 15 min),
  ``PV`` (solar, "power" kW, 15 min), ``Meter`` (building: "energy" kWh, 15 min, no power sensor)
  and ``Prices`` (market: EUR/MWh, 1 h);
* account "Beta" (no USEF role): user bob; asset ``Other CS`` ("power" kW, 15 min);
* account "Gamma": user mdc with the user role MDC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.app import create_app
from commands import registry as cmd
from commands.context import CommandContext
from infra.bootstrap import Platform, build_platform
from infra.settings import Settings
from projections.readings import readings

PASSWORD = "correct horse battery"
ALICE, CAROL, BOB, MDC = "alice@alpha.test", "carol@alpha.test", "bob@beta.test", "mdc@gamma.test"


@dataclass
class World:
    accounts: dict[str, int] = field(default_factory=dict)
    users: dict[str, int] = field(default_factory=dict)
    assets: dict[str, int] = field(default_factory=dict)
    sensors: dict[str, int] = field(default_factory=dict)


def _sensor(ctx: CommandContext, world: World, asset: str, name: str, unit: str, resolution_s: int) -> None:
    sensor_id = cmd.register_sensor(
        ctx, cmd.RegisterSensor(asset_id=world.assets[asset], name=name, unit=unit, event_resolution_s=resolution_s)
    )
    world.sensors[f"{asset}/{name}"] = sensor_id


def seed_world(ctx: CommandContext) -> World:
    """Create the accounts, users, assets and sensors described in the module docstring."""
    world = World()
    for name, roles in (("Alpha", ["Prosumer"]), ("Beta", []), ("Gamma", [])):
        world.accounts[name] = cmd.register_account(ctx, cmd.RegisterAccount(name=name, roles=roles))
    for email, account, roles in (
        (ALICE, "Alpha", []),
        (CAROL, "Alpha", []),
        (BOB, "Beta", []),
        (MDC, "Gamma", ["MDC"]),
    ):
        world.users[email] = cmd.register_user(
            ctx, cmd.RegisterUser(email=email, password=PASSWORD, account_id=world.accounts[account], roles=roles)
        )
    for name, account, asset_type in (
        ("CS 1", "Alpha", "one-way_evse"),
        ("CS 2", "Alpha", "charge_site"),
        ("CS 3", "Alpha", "charge_site"),
        ("PV", "Alpha", "solar"),
        ("Meter", "Alpha", "building"),
        ("Prices", "Alpha", "market"),
        ("Other CS", "Beta", "charge_site"),
    ):
        world.assets[name] = cmd.register_asset(
            ctx, cmd.RegisterAsset(account_id=world.accounts[account], name=name, asset_type=asset_type)
        )
    for asset, name, unit, resolution_s in (
        ("CS 1", "power", "kW", 900),
        ("CS 2", "power", "kW", 900),
        ("CS 3", "power", "MW", 900),
        ("PV", "power", "kW", 900),
        ("Meter", "energy", "kWh", 900),
        ("Prices", "day-ahead", "EUR/MWh", 3600),
        ("Other CS", "power", "kW", 900),
    ):
        _sensor(ctx, world, asset, name, unit, resolution_s)
    return world


class ApiHarness:
    """A seeded platform served in process; use as a context manager."""

    def __init__(self, home: Path, **settings: Any):
        defaults = dict(event_store="sqlite", log="memory", read_models="sqlite", bcrypt_rounds=4)
        self.settings = Settings(home=home, **{**defaults, **settings})
        self.platform: Platform = build_platform(self.settings)
        self.world = seed_world(self.platform.commands)
        self.app = create_app(self.platform)
        self.client = TestClient(self.app)
        self._tokens: dict[str, str] = {}

    def __enter__(self) -> ApiHarness:
        self.client.__enter__()  # runs the lifespan: starts relay and projections
        assert self.platform.wait_for(self.platform.store.head_position()), "projections did not catch up"
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.client.__exit__(*exc_info)
        self.platform.close()

    def token(self, email: str) -> str:
        if email not in self._tokens:
            response = self.client.post("/api/requestAuthToken", json={"email": email, "password": PASSWORD})
            assert response.status_code == 200, response.text
            self._tokens[email] = response.json()["auth_token"]
        return self._tokens[email]

    def auth(self, email: str = ALICE) -> dict[str, str]:
        return {"Authorization": self.token(email)}

    def head(self) -> int:
        """The event store's head position (unchanged by a refused request)."""
        return self.platform.store.head_position()

    def readings_count(self, sensor_id: int) -> int:
        query = sa.select(sa.func.count()).select_from(readings).where(readings.c.sensor_id == sensor_id)
        with self.platform.read_models.read_engine.connect() as conn:
            return conn.execute(query).scalar_one()

    def sensor(self, key: str) -> int:
        return self.world.sensors[key]

    def asset(self, name: str) -> int:
        return self.world.assets[name]
