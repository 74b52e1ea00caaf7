"""FINESCE COS API: each served resource against the seed's sample record, paging, access, tokens."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from ev_support import meter
from test_api_realto_sessions import same_shape
from test_api_support import ALICE, BOB, PASSWORD, ApiHarness

from commands import ev as evc
from domain import ev
from domain.ports.event_store import NO_STREAM

T0 = datetime(2014, 10, 2, 13, 0, tzinfo=UTC)
TIMES = {"created_at": "2014-07-28T10:50:37.000Z", "updated_at": "2014-07-28T10:50:37.000Z"}
# One sample record per resource, copied from finesce-cos-api.txt (the seed).
SEED = {
    "chargingmodes": {"id": 3, "name": "Single Phase 16A", "power_kw": "3.52", **TIMES},
    "evtypes": {"id": 1, "brand": "Leaf", "manufacturer": "Nissan", "battery_capacity_kwh": "24.0",
                "range_min_km": 120, "range_max_km": 160, **TIMES},
    "electricvehicles": {"id": 101001, "evtype_id": 1, **TIMES},
    "evses": {"id": 101001, "make": "M2C", "model": "M2C", "hardware_version": "1.0", "firmware_version": "1.0",
              "region_id": 1, **TIMES},
    "regions": {"id": 3, "name": "Wales", "code": "2", "country": "Wales", **TIMES},
    "algoweights": {"id": 15767, "renewables": "100.0", "interconnect": "0.0", "specific": "0.0",
                    "timeslot_id": 1412257500, "region_id": 3, **TIMES},
    "evevseconnections": {"id": 53264, "start": "2014-10-02T13:11:50.000Z", "energy_kwh_current_min": "5.73",
                          "energy_kwh_previous_min": "5.72", "duration_s": 5220, "connection_total_kwh": "5.73",
                          "running_total_kwh": "2552.83", "chargingmode_id": 3, "evevseconnectionstate_id": 3,
                          "evse_id": 100021, "electricvehicle_id": 100021, **TIMES},
    "evevseconnectionstates": {"id": 6, "name": "grid_is_charging", "code": 6, **TIMES},
    "timeslots": {"id": 1412597700, "start": "2014-10-06T12:15:00.000Z", "duration_min": 15, **TIMES},
    "regionalenergies": {"id": 2364, "generated_energy_kwh": "-2947.0", "aggregated_energy_kwh": "-3947.0",
                         "requested_energy_kwh": "64.0", "actual_energy_kwh": "84.0",
                         "forecasted_energy_kwh": "-3379.0", "region_id": 1, "timeslot_id": 1410965100, **TIMES},
    "regionalaggevseenergies": {"id": 96802, "max_possible_kwh": "6.16", "current_kwh_in_use": "0.0",
                                "region_id": 1, **TIMES},
}
TOKEN_SAMPLE = {"token_expires_at": "2014-10-02 21:48:46 UTC", "role": "admin", "auth_token": "eyJ...",
                "refresh_token": "DUDX..."}


@pytest.fixture
def api(tmp_path: Path):
    with ApiHarness(tmp_path) as harness:
        ctx, alpha = harness.platform.commands, harness.world.accounts["Alpha"]
        ids = harness.ids = {}
        ids["region"] = evc.register_region(ctx, evc.RegisterRegion(account_id=alpha, name="Wales", code="2",
                                                                    country="Wales"))
        ids["mode"] = evc.register_charging_mode(ctx, evc.RegisterChargingMode(
            account_id=alpha, name="Single Phase 16A", power_kw=3.52))
        ids["evtype"] = evc.register_ev_type(ctx, evc.RegisterEvType(
            account_id=alpha, manufacturer="Nissan", brand="Leaf", battery_capacity_kwh=24, range_min_km=120,
            range_max_km=160, charging_mode_ids=[ids["mode"]]))
        ids["ev"] = evc.register_ev(ctx, evc.RegisterEv(account_id=alpha, ev_type_id=ids["evtype"]))
        asset, sensor = harness.asset("CS 1"), harness.sensor("CS 1/power")
        evc.register_evse(ctx, ev.EvseRegistered(
            asset_id=asset, account_id=alpha, make="M2C", model="M2C", hardware_version="1.0", firmware_version="1.0",
            region_id=ids["region"], energy_sensor_id=sensor, charging_mode_ids=[ids["mode"]], max_power_kw=7.0))
        ids["weights"] = evc.set_algo_weights(ctx, evc.SetAlgoWeights(
            account_id=alpha, region_id=ids["region"], timeslot_id=1412257500, renewables=100, interconnect=0,
            specific=0))
        session = uuid.uuid4()
        evc.record_session_event(ctx, ev.EvPluggedIn(session_id=session, evse_asset_id=asset, at=T0,
                                                     ev_id=ids["ev"], charging_mode_id=ids["mode"]))
        evc.record_session_event(ctx, ev.ChargingStarted(session_id=session, at=T0))
        meter(ctx, sensor, T0, [3.52] * 4, unit="kW")
        assert harness.platform.wait_for(harness.head(), timeout_s=60)
        yield harness


def _get(api: ApiHarness, path: str, email: str = ALICE, **params):
    return api.client.get(f"/api/v2/{path}", params={"auth_token": api.token(email), **params})


def test_each_resource_matches_the_seed_sample(api: ApiHarness) -> None:
    for resource in sorted(SEED):  # one platform for all (a parametrized test would build eight)
        body = _get(api, resource).json()
        same_shape({"totalrecords": 1, "records": [SEED[resource]]}, body)
        record = body["records"][0]
        single = _get(api, f"{resource}/{record['id']}").json()
        moving = {"duration_s", "energy_kwh_current_min", "energy_kwh_previous_min"}  # an open connection's
        assert single["totalrecords"] == body["totalrecords"], resource
        assert {k: v for k, v in single["records"][0].items() if k not in moving} == {
            k: v for k, v in record.items() if k not in moving}, resource


def test_values_follow_the_domain(api: ApiHarness) -> None:
    [mode] = _get(api, "chargingmodes").json()["records"]
    assert (mode["name"], mode["power_kw"]) == ("Single Phase 16A", "3.52")
    [evtype] = _get(api, "evtypes").json()["records"]
    assert evtype["battery_capacity_kwh"] == "24.0" and evtype["range_max_km"] == 160
    [connection] = _get(api, "evevseconnections").json()["records"]
    assert connection["connection_total_kwh"] == "3.52" and connection["evevseconnectionstate_id"] == 3
    assert connection["start"] == "2014-10-02T13:00:00.000Z" and connection["evse_id"] == api.asset("CS 1")
    assert connection["electricvehicle_id"] == api.ids["ev"] and connection["running_total_kwh"] == "3.52"
    related = {
        f"chargingmodes/{api.ids['mode']}/evses": [api.asset("CS 1")],
        f"chargingmodes/{api.ids['mode']}/evtypes": [api.ids["evtype"]],
        f"evtypes/{api.ids['evtype']}/electricvehicles": [api.ids["ev"]],
        f"evtypes/{api.ids['evtype']}/chargingmodes": [api.ids["mode"]],
        f"electricvehicles/{api.ids['ev']}/evevseconnections": [connection["id"]],
        f"evses/{api.asset('CS 1')}/evevseconnections": [connection["id"]],
        f"evses/{api.asset('CS 1')}/chargingmodes": [api.ids["mode"]],
        f"regions/{api.ids['region']}/evses": [api.asset("CS 1")],
        f"regions/{api.ids['region']}/algoweights": [api.ids["weights"]],
        f"evseconnections/{connection['id']}/evseconnectionstate": [3],
        f"evseconnections/{connection['id']}/chargingmode": [api.ids["mode"]],
    }
    for path, expected in related.items():
        response = _get(api, path)
        assert response.status_code == 200, (path, response.text)
        assert [r["id"] for r in response.json()["records"]] == expected, path


def test_timeslots_and_regional_energies_come_from_readings(api: ApiHarness) -> None:
    slot = int(T0.timestamp())
    slots = _get(api, "timeslots", sort="asc").json()
    assert [r["id"] for r in slots["records"]] == [slot + 900 * i for i in range(4)]
    assert slots["records"][0]["start"] == "2014-10-02T13:00:00.000Z"
    energies = _get(api, f"timeslots/{slot}/regionalenergies").json()["records"]
    assert [(r["region_id"], r["actual_energy_kwh"]) for r in energies] == [(api.ids["region"], "0.88")]
    meter(api.platform.commands, api.sensor("CS 1/power"), T0, [2.0], unit="kW")  # a corrected reading
    assert api.platform.wait_for(api.head(), timeout_s=60)
    [corrected] = _get(api, f"timeslots/{slot}/regionalenergies").json()["records"]
    assert corrected["actual_energy_kwh"] == "0.5" and corrected["id"] == energies[0]["id"]
    [agg] = _get(api, f"regions/{api.ids['region']}/regionalaggevseenergies", sort="asc").json()["records"][:1]
    assert (agg["max_possible_kwh"], agg["current_kwh_in_use"]) == ("1.75", "0.5")
    for path, expected in {
        f"regionalenergies/{corrected['id']}/region": [api.ids["region"]],
        f"regionalenergies/{corrected['id']}/timeslot": [slot],
        f"times/{slot}/evses": [api.asset("CS 1")],
        f"regions/{api.ids['region']}/regionalenergies": [slot + 900 * i for i in (3, 2, 1, 0)],
    }.items():
        response = _get(api, path)
        assert response.status_code == 200, (path, response.text)
        key = "timeslot_id" if path.endswith("regionalenergies") else "id"
        assert [r[key] for r in response.json()["records"]] == expected, path
    assert _get(api, f"timeslots/{slot}", BOB).status_code in (403, 404)


def test_realto_and_finesce_serve_the_same_sessions(api: ApiHarness) -> None:
    [connection] = _get(api, "evevseconnections").json()["records"]
    realto = api.client.get(f"/api/v1/entities/{api.asset('CS 1')}/charge-sessions", headers=api.auth()).json()
    [record] = realto["data"]
    assert record["data"]["charge"]["total"]["total"] == float(connection["connection_total_kwh"]) == 3.52
    assert record["data"]["start"].replace("Z", ".000Z") == connection["start"]
    assert record["entityId"] == str(connection["evse_id"])


def test_tokens_access_and_paging_parameters(api: ApiHarness) -> None:
    response = api.client.post("/api/v2/tokens", params={"email": ALICE, "password": PASSWORD})
    assert response.status_code == 200
    same_shape(TOKEN_SAMPLE, response.json())
    refreshed = api.client.post("/api/v2/tokens/refresh", params={"refresh_token": response.json()["refresh_token"]})
    assert refreshed.status_code == 200
    token = refreshed.json()["auth_token"]
    assert api.client.get("/api/v2/evses", params={"auth_token": token}).status_code == 200
    assert api.client.post("/api/v2/tokens", params={"email": ALICE, "password": "wrong"}).status_code == 401
    assert api.client.get("/api/v2/evses").status_code == 401
    assert api.client.get("/api/v2/evses", params={"auth_token": "x"}).status_code == 401
    assert _get(api, "evses", BOB).json() == {"totalrecords": 0, "records": []}  # another account's: not listed
    assert _get(api, f"evses/{api.asset('CS 1')}", BOB).status_code == 403
    assert _get(api, f"regions/{api.ids['region']}/evses", BOB).status_code == 403
    assert _get(api, "evses/999999").status_code == 404
    for params in ({"limit": 199}, {"limit": 1001}, {"offset": -1}, {"sort": "up"}, {"order_by": "password"}):
        assert _get(api, "evses", **params).status_code == 422, params


def _plug_in(api: ApiHarness, at: datetime) -> None:
    session_id = uuid.uuid4()
    event = ev.EvPluggedIn(session_id=session_id, evse_asset_id=api.asset("CS 1"), at=at)
    api.platform.commands.append(ev.session_stream(session_id), [event], NO_STREAM)


def test_paging_over_1000_connections_under_concurrent_inserts(api: ApiHarness) -> None:
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: _plug_in(api, T0 + timedelta(hours=i)), range(1050)))
    assert api.platform.wait_for(api.head(), timeout_s=60)
    before = {r["id"] for r in _get(api, "evevseconnections", limit=1000, sort="asc").json()["records"]}
    before |= {r["id"] for r in _get(api, "evevseconnections", limit=1000, sort="asc", offset=1000).json()["records"]}
    assert len(before) == 1051
    stop = threading.Event()
    writer = threading.Thread(target=lambda: [_plug_in(api, T0 - timedelta(hours=i)) for i in range(300)
                                              if not stop.is_set()])
    writer.start()
    seen: list[int] = []
    try:
        offset = 0
        while True:  # ascending ids: a new connection lands after every page read so far
            records = _get(api, "evevseconnections", limit=200, offset=offset, sort="asc").json()["records"]
            seen += [r["id"] for r in records]
            offset += 200
            if len(records) < 200:
                break
    finally:
        stop.set()
        writer.join()
    assert len(seen) == len(set(seen)), "a connection was served twice"
    assert before <= set(seen), "a connection was skipped"
    assert seen == sorted(seen)
