"""Realto ``GET /api/v1/entities/{entityId}/charge-sessions`` against the seed's sample, paging, access."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from ev_support import make_evse, meter, plug
from test_api_support import ALICE, BOB, PASSWORD, ApiHarness

from commands import registry as reg
from commands.ev import record_session_event
from domain import ev
from domain.ports.event_store import NO_STREAM

T0 = datetime(2023, 11, 6, 8, 0, tzinfo=UTC)  # a Monday
# The sample response of realto-charge-sessions-api.txt (the seed), one record.
SEED_SAMPLE = {
    "data": [{
        "data": {
            "charge": {
                "averagePower": {"unit": "<string>", "value": 123},
                "end": {"unit": "<string>", "value": 123},
                "start": {"unit": "<string>", "value": 123},
                "total": {"t1": 123, "t2": 123, "t3": 123, "t4": 123, "total": 123, "unit": "<string>"},
            },
            "end": "2023-11-07T05:31:56Z",
            "location": {"address": "<string>", "latitude": 123, "longitude": 123},
            "locationMatches": [{"accuracy": 123, "location": {"id": "3c90c3cc-0d44-4b50-8888-8dd25736052a",
                                                               "label": "<string>"}}],
            "range": {"start": {"unit": "<string>", "value": 123}, "end": {"unit": "<string>", "value": 123}},
            "start": "2023-11-07T05:31:56Z",
        },
        "entityId": "3c90c3cc-0d44-4b50-8888-8dd25736052a",
        "id": "3c90c3cc-0d44-4b50-8888-8dd25736052a",
        "created": "2023-11-07T05:31:56Z",
    }],
    "links": {"next": "<string>"},
    "meta": {"continuationToken": "<string>", "pageSize": 123},
}


def same_shape(expected, actual, path: str = "") -> None:
    """Field names and JSON types equal, recursively (numbers: int or float)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and set(actual) == set(expected), f"{path}: {actual!r}"
        for key in expected:
            same_shape(expected[key], actual[key], f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and actual, f"{path}: empty"
        for item in actual:
            same_shape(expected[0], item, f"{path}[]")
    elif isinstance(expected, int | float):
        assert isinstance(actual, int | float) and not isinstance(actual, bool), f"{path}: {actual!r}"
    else:
        assert isinstance(actual, type(expected)), f"{path}: {actual!r}"


@pytest.fixture
def api(tmp_path: Path):
    with ApiHarness(tmp_path) as harness:
        ctx = harness.platform.commands
        alpha = harness.world.accounts["Alpha"]
        reg.change_asset(ctx, reg.ChangeAsset(asset_id=harness.asset("CS 1"), changes={
            "parent_asset_id": harness.asset("CS 2"), "latitude": 52.1, "longitude": 5.1,
            "attributes": {"address": "Stationsplein 1, Utrecht"}}))
        make_evse(ctx, alpha, harness.asset("CS 1"), harness.sensor("CS 1/power"))
        yield harness


def _wait(api: ApiHarness) -> None:
    assert api.platform.wait_for(api.head(), timeout_s=60)


def _url(api: ApiHarness, asset: str = "CS 1") -> str:
    return f"/api/v1/entities/{api.asset(asset)}/charge-sessions"


def test_a_session_in_the_seed_shape(api: ApiHarness) -> None:
    ctx = api.platform.commands
    sid = plug(ctx, api.asset("CS 1"), T0, soc_kwh=12.0, range_km=80.0)
    record_session_event(ctx, ev.EvPluggedOut(session_id=sid, at=T0 + timedelta(hours=2), soc_kwh=20.0, range_km=133))
    meter(ctx, api.sensor("CS 1/power"), T0, [4.0] * 8, unit="kW")  # 4 kW for 2 h = 8 kWh
    _wait(api)
    bearer = {"Authorization": f"Bearer {api.token(ALICE)}"}
    response = api.client.get(_url(api), params={"pageSize": 1}, headers=bearer)
    assert response.status_code == 200, response.text
    body = response.json()
    body["links"]["next"] = body["links"]["next"] or "-"  # one session: no next page
    body["meta"]["continuationToken"] = body["meta"]["continuationToken"] or "-"
    same_shape(SEED_SAMPLE, body)
    [record] = body["data"]
    assert record["id"] == str(sid) and record["entityId"] == str(api.asset("CS 1"))
    assert record["data"]["start"] == "2023-11-06T08:00:00Z" and record["data"]["end"] == "2023-11-06T10:00:00Z"
    charge = record["data"]["charge"]
    assert charge["total"] == {"t1": 8.0, "t2": 0.0, "t3": 0.0, "t4": 0.0, "total": 8.0, "unit": "kWh"}
    assert charge["averagePower"] == {"unit": "kW", "value": 4.0}
    assert charge["start"] == {"unit": "kWh", "value": 12.0}
    assert charge["end"] == {"unit": "kWh", "value": 20.0}
    assert record["data"]["range"] == {"start": {"unit": "km", "value": 80.0}, "end": {"unit": "km", "value": 133.0}}
    assert record["data"]["location"] == {"address": "Stationsplein 1, Utrecht", "latitude": 52.1, "longitude": 5.1}
    assert record["data"]["locationMatches"][0]["location"] == {"id": str(api.asset("CS 2")), "label": "CS 2"}
    assert body["meta"]["pageSize"] == 1


def test_access_and_bad_input(api: ApiHarness, tmp_path: Path) -> None:
    ctx = api.platform.commands
    reg.register_user(ctx, reg.RegisterUser(email="audit@beta.test", password=PASSWORD,
                                            account_id=api.world.accounts["Beta"], roles=["auditor"]))
    _wait(api)
    assert api.client.get(_url(api)).status_code == 401
    assert api.client.get(_url(api), headers={"Authorization": "Bearer nonsense"}).status_code == 401
    assert api.client.get(_url(api), headers=api.auth(BOB)).status_code == 403
    assert api.client.get(_url(api), headers=api.auth("audit@beta.test")).status_code == 200
    assert api.client.get("/api/v1/entities/99999/charge-sessions", headers=api.auth()).status_code == 404
    assert api.client.get("/api/v1/entities/abc/charge-sessions", headers=api.auth()).status_code == 404
    bad = [{"from": "2023-11-06T08:00:00"}, {"pageSize": 0}, {"pageSize": 1001}, {"continuationToken": "%%%"}]
    for params in bad:
        response = api.client.get(_url(api), params=params, headers=api.auth())
        assert response.status_code == 422, (params, response.text)


def _plug_in(api: ApiHarness, at: datetime) -> str:
    session_id = uuid.uuid4()
    event = ev.EvPluggedIn(session_id=session_id, evse_asset_id=api.asset("CS 1"), at=at)
    api.platform.commands.append(ev.session_stream(session_id), [event], NO_STREAM)
    return str(session_id)


def test_paging_over_1000_sessions_under_concurrent_inserts(api: ApiHarness) -> None:
    with ThreadPoolExecutor(8) as pool:  # concurrent appends are committed together
        existing = set(pool.map(lambda i: _plug_in(api, T0 + timedelta(minutes=10 * i)), range(1050)))
    _wait(api)
    stop, inserted = threading.Event(), []

    def insert_meanwhile() -> None:
        i = 0
        while not stop.is_set() and i < 300:  # before, between and after the pages read so far
            inserted.append(_plug_in(api, T0 + timedelta(minutes=10 * (i * 7 % 1400) + 5)))
            i += 1

    writer = threading.Thread(target=insert_meanwhile)
    writer.start()
    seen: list[str] = []
    params: dict = {"pageSize": 200, "from": "2023-11-01T00:00:00Z"}
    try:
        while True:
            body = api.client.get(_url(api), params=params, headers=api.auth()).json()
            seen += [r["id"] for r in body["data"]]
            if body["meta"]["continuationToken"] is None:
                break
            assert body["links"]["next"].endswith(f"continuationToken={body['meta']['continuationToken']}")
            params = {**params, "continuationToken": body["meta"]["continuationToken"]}
    finally:
        stop.set()
        writer.join()
    assert len(seen) == len(set(seen)), "a session was served twice"
    assert existing <= set(seen), "a session was skipped"
    assert set(seen) <= existing | set(inserted)


def test_entities_readings_and_aggregations(api: ApiHarness) -> None:
    meter(api.platform.commands, api.sensor("CS 1/power"), T0, [4.0, 4.0, 2.0, 2.0, 1.0, 1.0, 1.0, 1.0], unit="kW")
    _wait(api)
    entities = api.client.get("/api/v1/entities", headers=api.auth()).json()["data"]
    cs1 = next(e for e in entities if e["id"] == str(api.asset("CS 1")))
    assert cs1["data"]["type"] == "one-way_evse" and cs1["data"]["sensors"][0]["unit"] == "kW"
    assert str(api.asset("CS 1")) not in {e["id"] for e in api.client.get("/api/v1/entities",
                                                                          headers=api.auth(BOB)).json()["data"]}
    base = f"/api/v1/entities/{api.asset('CS 1')}"
    window = {"from": "2023-11-06T08:00:00Z", "to": "2023-11-06T10:00:00Z"}
    readings = api.client.get(f"{base}/readings", params=window, headers=api.auth()).json()
    assert [r["value"] for r in readings["data"]] == [4.0, 4.0, 2.0, 2.0, 1.0, 1.0, 1.0, 1.0]
    assert readings["data"][0]["timestamp"] == "2023-11-06T08:00:00Z" and readings["meta"]["unit"] == "kW"
    mean = api.client.get(f"{base}/aggregations", params={**window, "aggregation": "mean"}, headers=api.auth()).json()
    assert [(b["start"], b["end"], b["value"]) for b in mean["data"]] == [
        ("2023-11-06T08:00:00Z", "2023-11-06T09:00:00Z", 3.0), ("2023-11-06T09:00:00Z", "2023-11-06T10:00:00Z", 1.0)]
    assert api.client.get(f"{base}/readings", params=window, headers=api.auth(BOB)).status_code == 403
    assert api.client.get(f"{base}/readings", params=window).status_code == 401
    too_long = {"from": "2000-01-01T00:00:00Z", "to": "2023-11-06T10:00:00Z"}
    assert api.client.get(f"{base}/readings", params=too_long, headers=api.auth()).status_code == 422
    unknown_sensor = {**window, "sensorId": "999"}
    assert api.client.get(f"{base}/readings", params=unknown_sensor, headers=api.auth()).status_code == 404
