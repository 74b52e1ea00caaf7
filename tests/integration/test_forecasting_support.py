"""Harness shared by the forecasting integration tests (``test_forecasting_*.py``); no tests here.

:class:`ForecastHarness` builds a real embedded platform (SQLite event store and read models,
in-process log and runner, or PostgreSQL when given URLs) in a folder, seeds one account (USEF
role Prosumer) with a user, a charge site asset and its ``power`` sensor (kW, 15 min; the
``forecasting`` attribute switches the live forecaster on) and serves the API in process
through Starlette's ``TestClient``. ``settle()`` waits (bounded) until every processor has
applied everything, including what the processors themselves appended.

:func:`synthetic_load_kw` is a deterministic EV-site-like load: a daily shape, quieter
weekends, seeded noise (consumption positive).
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from api.app import create_app
from commands import registry as cmd
from infra.bootstrap import Platform, build_platform
from infra.settings import Settings
from streams.forecaster import ForecastProcessor

PASSWORD = "forecast-password-1"
EMAIL = "ops@forecast.test"
START = datetime(2024, 1, 1, tzinfo=UTC)  # a Monday
STEP = timedelta(minutes=15)
FORECASTING = {"forecasting": {"horizon": "PT48H", "country": "NL"}}


def synthetic_load_kw(start: datetime, n: int, seed: int = 7) -> list[float]:
    """``n`` quarter-hour values from ``start``: daily peaks, lower on weekends, seeded noise (kW)."""
    rng = random.Random(seed * 1_000_003 + int(start.timestamp()))
    values = []
    for i in range(n):
        moment = start + i * STEP
        hour = moment.hour + moment.minute / 60
        daily = 20 + 15 * math.exp(-((hour - 9) ** 2) / 6) + 25 * math.exp(-((hour - 18) ** 2) / 4)
        weekend = 0.6 if moment.weekday() >= 5 else 1.0
        values.append(round(max(0.0, daily * weekend + rng.gauss(0, 1.5)), 3))
    return values


def harness_settings(home: Path, **settings) -> Settings:
    """The embedded deployment on ``home`` (SQLite, in-process log) unless ``settings`` say otherwise."""
    defaults = dict(event_store="sqlite", log="memory", read_models="sqlite", bcrypt_rounds=4)
    return Settings(home=home, **{**defaults, **settings})


class ForecastHarness:
    """A seeded platform served in process; use as a context manager (``with ... as h``)."""

    def __init__(self, home: Path, attributes: dict[str, Any] | None = None, seed_world: bool = True, **settings):
        self.settings = harness_settings(home, **settings)
        self.platform: Platform = build_platform(self.settings)
        if seed_world:
            self._seed(FORECASTING if attributes is None else attributes)
        self.client = TestClient(create_app(self.platform))
        self._token: str | None = None

    def _seed(self, attributes: dict[str, Any]) -> None:
        ctx = self.platform.commands
        account = cmd.register_account(ctx, cmd.RegisterAccount(name="Ops", roles=["Prosumer"]))
        cmd.register_user(ctx, cmd.RegisterUser(email=EMAIL, password=PASSWORD, account_id=account))
        asset = cmd.register_asset(ctx, cmd.RegisterAsset(account_id=account, name="Site", asset_type="charge_site"))
        cmd.register_sensor(
            ctx, cmd.RegisterSensor(asset_id=asset, name="power", unit="kW", event_resolution_s=900,
                                    timezone="Europe/Amsterdam", attributes=attributes),
        )  # fmt: skip

    def __enter__(self) -> ForecastHarness:
        self.client.__enter__()  # runs the lifespan: starts relay and processors
        self.settle()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.client.__exit__(*exc_info)
        self.platform.close()

    # -- ids (the seeded world is always the same) ------------------------------------------

    account_id, asset_id, sensor_id = 1, 1, 1

    @property
    def connection(self) -> str:
        return f"ea1.2026-11.io.flexledger:{self.account_id}:{self.asset_id}"

    @property
    def forecaster(self) -> ForecastProcessor:
        return next(p for p in self.platform.processors if isinstance(p, ForecastProcessor))

    def auth(self) -> dict[str, str]:
        if self._token is None:
            response = self.client.post("/api/requestAuthToken", json={"email": EMAIL, "password": PASSWORD})
            assert response.status_code == 200, response.text
            self._token = response.json()["auth_token"]
        return {"Authorization": self._token}

    def settle(self, rounds: int = 50) -> None:
        """Wait until every processor applied the head, until the head stops moving (bounded)."""
        for _ in range(rounds):
            head = self.platform.store.head_position()
            assert self.platform.wait_for(head, timeout_s=120), "processors did not catch up"
            if self.platform.store.head_position() == head:
                return
        raise AssertionError("the event store kept growing")

    def head(self) -> int:
        return self.platform.store.head_position()

    # -- HTTP helpers -------------------------------------------------------------------------

    def post_days(self, first: datetime, days: int, sensor_id: int | None = None, values: list | None = None) -> None:
        """Post ``days`` days of quarter-hour load from ``first``, one request per day."""
        values = synthetic_load_kw(first, days * 96) if values is None else values
        for day in range(days):
            body = {
                "start": (first + timedelta(days=day)).isoformat(),
                "duration": "P1D",
                "unit": "kW",
                "values": values[day * 96 : (day + 1) * 96],
            }
            response = self.client.post(
                f"/api/v3_0/sensors/{sensor_id or self.sensor_id}/data", json=body, headers=self.auth()
            )
            assert response.status_code == 200, response.text

    def get(self, path: str, expected: int = 200, **params) -> dict:
        """GET with query ``params`` (``None`` values are left out)."""
        params = {key: value for key, value in params.items() if value is not None}
        response = self.client.get(path, params=params, headers=self.auth())
        assert response.status_code == expected, response.text
        return response.json()

    def post(self, path: str, body: dict, expected: int = 200) -> dict:
        response = self.client.post(path, json=body, headers=self.auth())
        assert response.status_code == expected, response.text
        return response.json()
