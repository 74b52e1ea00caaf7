"""A charge session from real OCPP 1.6J messages over a WebSocket: a simulated charge point (the
``ocpp`` package) talks to the embedded platform's central system; its statuses and transactions
become the EV domain's session events, its energy register's differences the session's energy;
the FINESCE (``evevseconnections``) and Realto (``charge-sessions``) APIs serve the session.

The messages carry fixed 2026-01-05 timestamps (not the wall clock). The expected energy is the
register's rise worked out by hand: 1000 Wh at the start, 1500 / 3000 (twice: a repeat) / 4000
Wh, a meter reset to 500 Wh, 1500 Wh at the stop: 500 + 1500 + 1000 + 500 + 1000 = 4500 Wh.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from test_api_support import ALICE, ApiHarness

from commands import ev as evc
from commands import registry as cmd
from domain import ev
from domain.chargers import password_sha256
from infra.gateways.ocpp_charger import connected_charger

KEY = "evse-key-456"
T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def _at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def api(tmp_path):
    with ApiHarness(tmp_path, ocpp_enabled=True, ocpp_port=0) as harness:
        ctx, asset = harness.platform.commands, harness.asset("CS 1")
        energy = cmd.register_sensor(
            ctx, cmd.RegisterSensor(asset_id=asset, name="energy", unit="kWh", event_resolution_s=900)
        )
        attributes = {"ocpp": {"charge_point_id": "CP-7", "password_sha256": password_sha256(KEY)}}
        cmd.change_asset(ctx, cmd.ChangeAsset(asset_id=asset, changes={"attributes": attributes}))
        evc.register_evse(
            ctx,
            ev.EvseRegistered(
                asset_id=asset,
                account_id=harness.world.accounts["Alpha"],
                make="Alfen",
                model="Eve",
                energy_sensor_id=energy,
            ),
        )
        assert harness.platform.wait_for(harness.head())
        harness.energy_sensor = energy
        yield harness


async def _simulated_session(charger) -> None:
    await charger.boot(vendor="Alfen", model="Eve", firmware="5.1")
    await charger.status("Available", at=_at(-5))
    await charger.status("Preparing", at=_at(0))
    await charger.start_transaction(meter_start_wh=1000, at=_at(0))
    await charger.status("Charging", at=_at(1))
    await charger.meter_values(_at(5), energy_wh=1500)
    await charger.meter_values(_at(20), energy_wh=3000)
    await charger.meter_values(_at(20), energy_wh=3000)  # a repeat
    await charger.status("SuspendedEV", at=_at(25))
    await charger.status("Charging", at=_at(26))
    await charger.meter_values(_at(30), energy_wh=4000)
    await charger.meter_values(_at(40), energy_wh=500)  # the meter was reset
    await charger.status("Finishing", at=_at(50))
    await charger.stop_transaction(meter_stop_wh=1500, at=_at(50))
    await charger.status("Available", at=_at(55))


async def test_a_simulated_session_is_served_by_finesce_and_realto(api):
    central = api.platform.devices.gateways["ocpp"]
    asset = api.asset("CS 1")
    async with connected_charger(central.url, "CP-7", KEY) as charger:
        await _simulated_session(charger)
    assert api.platform.wait_for(api.head(), timeout_s=60)

    finesce = api.client.get(f"/api/v2/evses/{asset}/evevseconnections", params={"auth_token": api.token(ALICE)})
    assert finesce.status_code == 200, finesce.text
    [connection] = finesce.json()["records"]
    assert connection["connection_total_kwh"] == "4.5"
    assert connection["start"] == "2026-01-05T12:00:00.000Z" and connection["duration_s"] == 55 * 60
    assert connection["evevseconnectionstate_id"] == 1  # plugged out: not connected

    realto = api.client.get(
        f"/api/v1/entities/{asset}/charge-sessions",
        headers=api.auth(),
        params={"from": "2026-01-05T00:00:00Z", "to": "2026-01-06T00:00:00Z"},
    )
    assert realto.status_code == 200, realto.text
    [session] = realto.json()["data"]
    charge = session["data"]["charge"]
    assert charge["total"]["total"] == pytest.approx(4.5) and charge["total"]["unit"] == "kWh"
    assert charge["total"]["t1"] == pytest.approx(4.5)  # a Monday, 12:00-13:00 UTC: the weekday day period
    assert (session["data"]["start"], session["data"]["end"]) == ("2026-01-05T12:00:00Z", "2026-01-05T12:55:00Z")
    assert charge["averagePower"] == {"unit": "kW", "value": pytest.approx(4.5 / (55 / 60))}
    assert session["entityId"] == str(asset)


async def test_resent_messages_and_a_second_session_count_once(api):
    central = api.platform.devices.gateways["ocpp"]
    asset = api.asset("CS 1")
    async with connected_charger(central.url, "CP-7", KEY) as charger:
        await _simulated_session(charger)
        await charger.status("Available", at=_at(56))  # resent: no second plug-out
        await charger.status("Preparing", at=_at(60))
        await charger.start_transaction(meter_start_wh=1500, at=_at(60))
        await charger.status("Charging", at=_at(61))
        await charger.meter_values(_at(75), energy_wh=2700)
        await charger.stop_transaction(meter_stop_wh=3000, at=_at(90))
        await charger.status("Available", at=_at(91))
    assert api.platform.wait_for(api.head(), timeout_s=60)
    records = api.client.get(
        f"/api/v2/evses/{asset}/evevseconnections", params={"auth_token": api.token(ALICE), "sort": "asc"}
    ).json()["records"]
    assert [r["connection_total_kwh"] for r in records] == ["4.5", "1.5"]
    assert [r["start"] for r in records] == ["2026-01-05T12:00:00.000Z", "2026-01-05T13:00:00.000Z"]
