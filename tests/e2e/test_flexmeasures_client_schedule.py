"""The official ``flexmeasures-client`` schedules through a real flexledger server process.

The client builds the world over HTTP (a market with prices, a charge site with a battery and
an EV charger), then ``trigger_and_get_schedule`` on the site (several devices, one MILP) and
on one sensor (the client resolves its asset and forces a new job because of ``prior``; the
schedule then uses the prices as known at that time). With
the server reporting FlexMeasures 0.33, the client waits on ``GET /api/v3_0/jobs/<uuid>``
before fetching each sensor's schedule (with a server-side ``unit``).
"""

from __future__ import annotations

import pytest
from e2e_server import EMAIL, PASSWORD, ServerProcess, seed
from flexmeasures_client import FlexMeasuresClient

pytestmark = pytest.mark.e2e

START = "2015-06-02T10:00:00+00:00"
HOURLY_PRICES = [30.0 if h % 24 < 6 or h % 24 >= 22 else 80.0 for h in range(48)]


async def _world(client: FlexMeasuresClient, account_id: int) -> dict[str, int]:
    types = {t["name"]: t["id"] for t in await client.get_asset_types()}
    market = await client.add_asset(
        name="Day-ahead", account_id=account_id, latitude=52.0, longitude=4.3, generic_asset_type_id=types["market"]
    )
    prices = await client.add_sensor(
        name="prices", event_resolution="PT1H", unit="EUR/MWh", generic_asset_id=market["id"], timezone="UTC"
    )
    await client.post_sensor_data(  # day-ahead prices, known since the day before
        prices["id"], start="2015-06-02T00:00:00+00:00", duration="P2D", values=HOURLY_PRICES, unit="EUR/MWh",
        prior="2015-06-01T12:00:00+00:00",
    )  # fmt: skip
    site = await client.add_asset(
        name="Charge site", account_id=account_id, latitude=52.0, longitude=4.3,
        generic_asset_type_id=types["charge_site"],
        flex_context={"consumption-price": {"sensor": prices["id"]}, "site-power-capacity": "15 kW"},
    )  # fmt: skip
    ids = {"prices": prices["id"], "site": site["id"]}
    for name, asset_type in (("battery", "battery"), ("evse", "one-way_evse")):
        device = await client.add_asset(
            name=name, account_id=account_id, latitude=52.0, longitude=4.3,
            generic_asset_type_id=types[asset_type], parent_asset_id=site["id"],
        )  # fmt: skip
        sensor = await client.add_sensor(
            name="power", event_resolution="PT15M", unit="kW", generic_asset_id=device["id"],
            timezone="Europe/Amsterdam",
        )  # fmt: skip
        ids[name] = sensor["id"]
    return ids


async def test_client_triggers_a_site_schedule_and_gets_it_back(server_factory: ServerProcess) -> None:
    seeded = seed(server_factory.home)
    server = server_factory.start()
    client = FlexMeasuresClient(email=EMAIL, password=PASSWORD, host=f"127.0.0.1:{server.port}", request_timeout=30)
    try:
        ids = await _world(client, seeded.account_id)
        assert client.server_version == "0.33.0"
        flex_model = [
            {"sensor": ids["battery"], "soc-at-start": "20 kWh", "soc-max": "40 kWh", "power-capacity": "10 kW"},
            {
                "sensor": ids["evse"], "soc-at-start": "5 kWh", "soc-max": "60 kWh", "consumption-capacity": "11 kW",
                "production-capacity": "0 kW", "charging-modes": ["0 kW", "5 kW", "10 kW"],
                "soc-targets": [{"datetime": "2015-06-02T14:00:00+00:00", "value": "30 kWh"}],
            },
        ]  # fmt: skip
        schedules = await client.trigger_and_get_schedule(
            asset_id=ids["site"], start=START, duration="PT12H", flex_model=flex_model, unit="kW"
        )
        assert [s["sensor"] for s in schedules] == [ids["battery"], ids["evse"]]
        battery, evse = schedules
        for schedule in schedules:
            assert (schedule["unit"], schedule["duration"], len(schedule["values"])) == ("kW", "PT12H", 48)
            assert schedule["start"] == "2015-06-02T12:00:00+02:00"
        assert all(min(abs(v - m) for m in (0, 5, 10)) < 1e-6 for v in evse["values"])
        assert 5 + sum(evse["values"][:16]) * 0.25 >= 30 - 1e-6  # the EV target at 14:00Z
        site_power = [b + e for b, e in zip(battery["values"], evse["values"], strict=True)]
        assert max(abs(p) for p in site_power) <= 15 + 1e-6

        single = await client.trigger_and_get_schedule(
            sensor_id=ids["battery"], start=START, duration="PT6H", prior="2015-06-02T09:00:00+00:00",
            flex_model={"soc-at-start": "0.01 MWh", "soc-max": "40 kWh", "power-capacity": "10 kW"}, unit="W",
        )  # fmt: skip
        assert (single["unit"], len(single["values"])) == ("W", 24)
        assert all(-10_000 - 1e-3 <= v <= 10_000 + 1e-3 for v in single["values"])
    finally:
        await client.close()
