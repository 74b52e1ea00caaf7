"""FINESCE regional energies computed from the platform's data, checked against an independent
computation done here from the values sent.

Region "Wales" has two EVSEs: a two-way EVSE metered by a 5-minute power sensor (kW; negative
values: V2G discharge) and a one-way EVSE metered by a 15-minute energy sensor (kWh). The test
sends measurements (one corrected later), the forecaster's beliefs (three forecasts, one of them
older and arriving last) and a schedule (a plan, never a measurement), then compares every
regional-energies record with sums it works out itself per 15-minute timeslot:
generated = Σ negative slot energies, requested = Σ positive ones, actual = aggregated = their
sum, forecasted = Σ of the latest forecast belief per slot.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from ev_support import plug
from test_api_support import ALICE, ApiHarness

from commands import ev as evc
from commands import registry as cmd
from commands.readings import RecordSensorData, record_sensor_data
from domain import ev

T0 = datetime(2014, 10, 2, 13, 0, tzinfo=UTC)
S0 = int(T0.timestamp())
V2G_KW = [7.0, 7.0, -3.0, -6.0, 2.5, 0.0, -1.2, 4.4, 3.3, -7.0, -7.0, 1.0]  # 5-minute values, one hour
ONE_WAY_KWH = [1.1, 2.2, 0.0, 0.7]  # 15-minute values, one hour
ONE_WAY_CORRECTED = (1, 1.9)  # the second slot is corrected later
FORECASTS = [  # (belief time, kWh per 15-minute slot of the one-way EVSE, two hours); the latest belief wins
    (T0 - timedelta(hours=2), [1.0] * 8),
    (T0 - timedelta(hours=1), [0.5, 2.5, -0.4, 0.9, 1.5, 1.25, 0.0, 3.0]),
    (T0 - timedelta(hours=3), [9.0] * 8),  # older, arriving last: ignored
]


def _record(ctx, sensor: int, start: datetime, values, unit: str, step_min: int, **extra) -> None:
    record_sensor_data(
        ctx,
        RecordSensorData(
            sensor_id=sensor,
            start=start,
            values=values,
            unit=unit,
            duration=timedelta(minutes=step_min * len(values)),
            source="test",
            **extra,
        ),
    )


@pytest.fixture
def api(tmp_path):
    with ApiHarness(tmp_path) as harness:
        ctx, alpha = harness.platform.commands, harness.world.accounts["Alpha"]
        region = evc.register_region(ctx, evc.RegisterRegion(account_id=alpha, name="Wales", code="2", country="Wales"))
        sensors, harness.assets = {}, {}
        for name, kind, unit, step in (("V2G", "two-way_evse", "kW", 300), ("AC", "one-way_evse", "kWh", 900)):
            asset = harness.assets[name] = cmd.register_asset(
                ctx, cmd.RegisterAsset(account_id=alpha, name=name, asset_type=kind)
            )
            sensors[name] = cmd.register_sensor(
                ctx, cmd.RegisterSensor(asset_id=asset, name="meter", unit=unit, event_resolution_s=step)
            )
            evc.register_evse(
                ctx,
                ev.EvseRegistered(
                    asset_id=asset,
                    account_id=alpha,
                    region_id=region,
                    energy_sensor_id=sensors[name],
                    max_power_kw=11.0,
                ),
            )
        _record(ctx, sensors["V2G"], T0, V2G_KW, "kW", 5)
        _record(ctx, sensors["AC"], T0, ONE_WAY_KWH, "kWh", 15)
        index, value = ONE_WAY_CORRECTED
        _record(ctx, sensors["AC"], T0 + timedelta(minutes=15 * index), [value], "kWh", 15)
        for belief_time, values in FORECASTS:
            _record(ctx, sensors["AC"], T0, values, "kWh", 15, source_type="forecaster", prior=belief_time)
        later = T0 + timedelta(hours=1)  # forecasts and a schedule where nothing is measured (yet)
        _record(ctx, sensors["V2G"], later, [11.0] * 12, "kW", 5, source_type="scheduler", prior=T0)
        assert harness.platform.wait_for(harness.head(), timeout_s=60)
        harness.region, harness.sensors = region, sensors
        yield harness


def _expected() -> dict[int, dict[str, float]]:
    """Per timeslot, worked out from the values sent (not from the read model)."""
    slots: dict[int, list[float]] = defaultdict(list)
    for i, kw in enumerate(V2G_KW):
        slots[S0 + (i * 300) // 900 * 900].append(kw * 5 / 60)
    measured = list(ONE_WAY_KWH)
    measured[ONE_WAY_CORRECTED[0]] = ONE_WAY_CORRECTED[1]
    for i, kwh in enumerate(measured):
        slots[S0 + i * 900].append(kwh)
    latest = max(FORECASTS, key=lambda f: f[0])[1]
    expected = {}
    for i in range(len(latest)):
        slots.setdefault(S0 + i * 900, [])
    for slot, parts in slots.items():
        generated, requested = sum(p for p in parts if p < 0), sum(p for p in parts if p > 0)
        expected[slot] = {
            "generated_energy_kwh": generated,
            "requested_energy_kwh": requested,
            "actual_energy_kwh": generated + requested,
            "aggregated_energy_kwh": generated + requested,
            "forecasted_energy_kwh": latest[(slot - S0) // 900],
        }
    return expected


def test_regional_energies_match_an_independent_computation(api) -> None:
    response = api.client.get(
        f"/api/v2/regions/{api.region}/regionalenergies",
        params={"auth_token": api.token(ALICE), "sort": "asc", "order_by": "timeslot_id"},
    )
    assert response.status_code == 200, response.text
    records = response.json()["records"]
    expected = _expected()
    assert [r["timeslot_id"] for r in records] == sorted(expected)
    for record in records:
        for field, value in expected[record["timeslot_id"]].items():
            assert isinstance(record[field], str), field
            assert float(record[field]) == pytest.approx(value, abs=1e-6), (record["timeslot_id"], field)
    assert any(float(r["generated_energy_kwh"]) < 0 for r in records)  # the V2G discharge shows
    agg = api.client.get(
        f"/api/v2/regions/{api.region}/regionalaggevseenergies", params={"auth_token": api.token(ALICE), "sort": "asc"}
    ).json()["records"]
    assert {r["current_kwh_in_use"] for r in agg} == {r["actual_energy_kwh"] for r in records}
    assert {r["max_possible_kwh"] for r in agg} == {"5.5"}  # two EVSEs of 11 kW over 15 minutes


def test_forecasts_and_schedules_are_not_session_energy(api) -> None:
    """A session over both hours at each EVSE holds the measured energy only."""
    for name in ("V2G", "AC"):
        plug(api.platform.commands, api.assets[name], T0, hours=2)
    assert api.platform.wait_for(api.head(), timeout_s=60)
    measured = list(ONE_WAY_KWH)
    measured[ONE_WAY_CORRECTED[0]] = ONE_WAY_CORRECTED[1]
    expected = {api.assets["V2G"]: sum(kw * 5 / 60 for kw in V2G_KW), api.assets["AC"]: sum(measured)}
    for asset, energy in expected.items():
        [session] = api.client.get(f"/api/v1/entities/{asset}/charge-sessions", headers=api.auth()).json()["data"]
        assert session["data"]["charge"]["total"]["total"] == pytest.approx(energy, abs=1e-9)


def test_paging_over_1000_timeslots_under_concurrent_inserts(api) -> None:
    """1,100 metered timeslots, walked 200 at a time in ascending order while readings of later
    timeslots keep arriving: every record once, none skipped (regionalenergies and timeslots)."""
    ctx, sensor = api.platform.commands, api.sensors["AC"]
    _record(ctx, sensor, T0 + timedelta(hours=2), [0.25] * 1100, "kWh", 15)
    assert api.platform.wait_for(api.head(), timeout_s=60)
    later = T0 + timedelta(hours=2) + timedelta(minutes=15 * 1100)
    stop = threading.Event()

    def insert() -> None:
        for i in range(300):
            if stop.is_set():
                return
            _record(ctx, sensor, later + timedelta(minutes=15 * i), [0.5], "kWh", 15)

    for resource in ("regionalenergies", "timeslots"):
        before = _walk(api, resource, 1000)
        assert len(before) >= 1100 + 8
        writer = threading.Thread(target=insert)
        writer.start()
        try:
            seen = _walk(api, resource, 200)
        finally:
            stop.set()
            writer.join()
        stop.clear()
        later += timedelta(minutes=15 * 300)
        assert len(seen) == len(set(seen)), f"{resource}: a record was served twice"
        assert set(before) <= set(seen), f"{resource}: a record was skipped"
        assert seen == sorted(seen)


def _walk(api, resource: str, limit: int) -> list[int]:
    seen, offset = [], 0
    while True:
        params = {"auth_token": api.token(ALICE), "limit": limit, "offset": offset, "sort": "asc"}
        response = api.client.get(f"/api/v2/{resource}", params=params)
        assert response.status_code == 200, response.text
        records = response.json()["records"]
        seen += [r["id"] for r in records]
        offset += limit
        if len(records) < limit:
            return seen


def test_moving_an_evse_to_another_region_moves_its_past_energy(api) -> None:
    ctx, alpha = api.platform.commands, api.world.accounts["Alpha"]
    north = evc.register_region(ctx, evc.RegisterRegion(account_id=alpha, name="North", code="3", country="Wales"))
    evc.change_evse(ctx, api.assets["AC"], alpha, {"region_id": north})
    assert api.platform.wait_for(api.head(), timeout_s=60)
    v2g: dict[int, float] = defaultdict(float)
    for i, kw in enumerate(V2G_KW):
        v2g[S0 + (i * 300) // 900 * 900] += kw * 5 / 60
    whole = _expected()
    for region, expected_actual, max_kwh in ((api.region, v2g, "2.75"), (north, None, "2.75")):
        records = api.client.get(
            f"/api/v2/regions/{region}/regionalenergies", params={"auth_token": api.token(ALICE), "sort": "asc"}
        ).json()["records"]
        assert [r["timeslot_id"] for r in records] == sorted(whole), region
        for record in records:
            slot = record["timeslot_id"]
            actual = (
                expected_actual.get(slot, 0.0)
                if expected_actual is not None
                else (whole[slot]["actual_energy_kwh"] - v2g.get(slot, 0.0))
            )
            assert float(record["actual_energy_kwh"]) == pytest.approx(actual, abs=1e-6), (region, slot)
            forecast = 0.0 if region == api.region else whole[slot]["forecasted_energy_kwh"]
            assert float(record["forecasted_energy_kwh"]) == pytest.approx(forecast, abs=1e-6), (region, slot)
        agg = api.client.get(
            f"/api/v2/regions/{region}/regionalaggevseenergies", params={"auth_token": api.token(ALICE)}
        ).json()["records"]
        assert {r["max_possible_kwh"] for r in agg} == {max_kwh}, region
