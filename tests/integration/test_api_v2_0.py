"""FlexMeasures API v2.0 over HTTP: getService, getConnection, postMeterData and getMeterData."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_api_support import ALICE, BOB, CAROL, MDC, ApiHarness

from api.entity_address import NAMING_AUTHORITY

PROCESSED = {"status": "PROCESSED", "message": "Request has been processed."}
START = "2021-01-01T00:00:00Z"


@pytest.fixture
def api(tmp_path: Path):
    with ApiHarness(tmp_path) as harness:
        yield harness


def ea(api: ApiHarness, asset: str, with_owner: bool = True) -> str:
    asset_id = api.asset(asset)
    owner = f"{api.world.accounts['Beta' if asset == 'Other CS' else 'Alpha']}:" if with_owner else ""
    return f"ea1.{NAMING_AUTHORITY}:{owner}{asset_id}"


def post_meter_data(api: ApiHarness, message: dict, email: str = ALICE) -> dict:
    response = api.client.post("/api/v2_0/postMeterData", json=message, headers=api.auth(email))
    assert response.status_code == 200, response.text
    return response.json()


def get_meter_data(api: ApiHarness, connections: list[str], email: str = ALICE, **fields) -> dict:
    params = {"type": "GetMeterDataRequest", "start": START, "duration": "PT1H30M", "unit": "MW", **fields}
    params["connection"] = json.dumps(connections) if len(connections) > 1 else connections[0]
    response = api.client.get("/api/v2_0/getMeterData", params=params, headers=api.auth(email))
    assert response.status_code == 200, response.text
    return response.json()


def test_get_service_is_public_and_lists_the_services(api: ApiHarness) -> None:
    response = api.client.get("/api/v2_0/getService")
    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("type", "version", "status")} == {
        "type": "GetServiceResponse",
        "version": "2.0",
        "status": "PROCESSED",
    }
    names = [
        "getConnection",
        "getMeterData",
        "postMeterData",
        "getPrognosis",
        "postPrognosis",
        "getDeviceMessage",
        "postUdiEvent",
    ]
    assert [s["name"] for s in body["services"]] == names
    assert all(s["access"] and s["description"] for s in body["services"])
    mdc = api.client.get("/api/v2_0/getService", params={"access": "MDC"}).json()["services"]
    assert [s["name"] for s in mdc] == names[:5]
    unknown = api.client.get("/api/v2_0/getService", params={"access": "Astronaut"})
    assert (unknown.status_code, unknown.json()["status"]) == (400, "INVALID_ROLE")


def test_get_connection_lists_own_connections_newest_first(api: ApiHarness) -> None:
    response = api.client.get("/api/v2_0/getConnection", headers=api.auth(ALICE))
    assert response.status_code == 200
    assert response.json() == {  # Meter (no power sensor), Prices and Beta's asset are no connections of Alice
        "type": "GetConnectionResponse",
        "connections": [ea(api, "PV"), ea(api, "CS 3"), ea(api, "CS 2"), ea(api, "CS 1")],
        "names": ["PV", "CS 3", "CS 2", "CS 1"],
    }
    typed = api.client.get("/api/v2_0/getConnection", params={"type": "GetConnectionRequest"}, headers=api.auth())
    assert typed.json()["connections"] == response.json()["connections"]


def test_get_connection_access(api: ApiHarness) -> None:
    no_role = api.client.get("/api/v2_0/getConnection", headers=api.auth(BOB))  # account Beta has no USEF role
    assert (no_role.status_code, no_role.json()["status"]) == (403, "INVALID_SENDER")
    mdc = api.client.get("/api/v2_0/getConnection", headers=api.auth(MDC))  # user role MDC, no assets
    assert mdc.json() == {"type": "GetConnectionResponse", "connections": [], "names": []}


def test_documented_example_round_trips(api: ApiHarness) -> None:
    """The postMeterData example of the docs (16.2), on Alpha's charge points, read back per connection."""
    cs1, cs2, cs3 = ea(api, "CS 1"), ea(api, "CS 2"), ea(api, "CS 3")
    message = {
        "type": "PostMeterDataRequest",
        "groups": [
            {"connections": [cs1, cs3], "values": [306.66, 306.66, 0, 0, 306.66, 306.66]},
            {"connections": [cs2], "values": [306.66, 0, 0, 0, 306.66, 306.66]},
        ],
        "start": START,
        "duration": "PT1H30M",
        "unit": "MW",
    }
    assert post_meter_data(api, message) == {"type": "PostMeterDataResponse", **PROCESSED}
    assert get_meter_data(api, [cs1, cs2, cs3]) == {
        "type": "GetMeterDataResponse",
        "groups": [
            {"connections": [cs1, cs3], "values": [306.66, 306.66, 0, 0, 306.66, 306.66]},
            {"connection": cs2, "values": [306.66, 0, 0, 0, 306.66, 306.66]},
        ],
        "start": START,
        "duration": "PT1H30M",
        "unit": "MW",
        **PROCESSED,
    }
    single = get_meter_data(api, [cs2])
    assert (single["connection"], single["values"]) == (cs2, [306.66, 0, 0, 0, 306.66, 306.66])
    both = get_meter_data(api, [cs1, cs3])
    assert both["connections"] == [cs1, cs3]


def test_meter_data_is_stored_in_the_power_sensor_with_the_user_as_source(api: ApiHarness) -> None:
    message = {"type": "PostMeterDataRequest", "connection": ea(api, "CS 1"), "values": [1.5, 2.5]}
    post_meter_data(api, {**message, "start": START, "duration": "PT30M", "unit": "MW"})
    sensor = api.sensor("CS 1/power")  # kW
    params = {"start": START, "duration": "PT30M", "source": ALICE}
    v3 = api.client.get(f"/api/v3_0/sensors/{sensor}/data", params=params, headers=api.auth())
    assert v3.json()["values"] == [1500.0, 2500.0]


def test_flattened_single_group_and_address_without_owner(api: ApiHarness) -> None:
    message = {
        "type": "PostMeterDataRequest",
        "connections": [ea(api, "CS 1", with_owner=False), ea(api, "CS 2")],
        "values": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        "start": START,
        "duration": "PT1H30M",
        "unit": "MW",
    }
    post_meter_data(api, message)
    data = get_meter_data(api, [ea(api, "CS 1"), ea(api, "CS 2")])
    assert data["connections"] == [ea(api, "CS 1"), ea(api, "CS 2")]
    assert data["values"] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]


def test_groups_inherit_start_duration_and_unit_unless_they_state_their_own(api: ApiHarness) -> None:
    message = {
        "type": "PostMeterDataRequest",
        "groups": [
            {"connection": ea(api, "CS 1"), "values": [1, 2]},
            {
                "connection": ea(api, "CS 2"),
                "values": [3000, 4000, 5000],
                "start": "2021-01-01T00:45:00Z",
                "duration": "PT45M",
                "unit": "kW",
            },
        ],
        "start": START,
        "duration": "PT30M",
        "unit": "MW",
    }
    post_meter_data(api, message)
    assert get_meter_data(api, [ea(api, "CS 1")])["values"] == [1, 2, None, None, None, None]
    assert get_meter_data(api, [ea(api, "CS 2")])["values"] == [None, None, None, 3, 4, 5]


def test_coarser_values_are_upsampled(api: ApiHarness) -> None:
    message = {"type": "PostMeterDataRequest", "connection": ea(api, "CS 2"), "values": [1, 2, 3]}
    post_meter_data(api, {**message, "start": START, "duration": "PT1H30M", "unit": "MW"})  # 30-minute values
    assert get_meter_data(api, [ea(api, "CS 2")])["values"] == [1, 1, 2, 2, 3, 3]


def test_units_convert_and_resolution_downsamples(api: ApiHarness) -> None:
    cs3 = ea(api, "CS 3")  # a MW sensor
    message = {"type": "PostMeterDataRequest", "connection": cs3, "values": [100, 300, 500, 700, 0, 0]}
    post_meter_data(api, {**message, "start": START, "duration": "PT1H30M", "unit": "kW"})
    assert get_meter_data(api, [cs3])["values"] == pytest.approx([0.1, 0.3, 0.5, 0.7, 0, 0])
    assert get_meter_data(api, [cs3], unit="W")["values"] == pytest.approx([1e5, 3e5, 5e5, 7e5, 0, 0])
    hourly = get_meter_data(api, [cs3], unit="kW", resolution="PT30M")
    assert (hourly["unit"], hourly["values"]) == ("kW", pytest.approx([200, 600, 0]))


def test_prior_and_horizon(api: ApiHarness) -> None:
    cs2 = ea(api, "CS 2")
    base = {"type": "PostMeterDataRequest", "connection": cs2, "start": START, "duration": "PT30M", "unit": "MW"}
    post_meter_data(api, {**base, "values": [1, 2], "prior": "2021-01-02T00:00:00Z"})
    post_meter_data(api, {**base, "values": [10, 20], "prior": "2021-01-03T00:00:00Z"})
    post_meter_data(api, {**base, "values": [7, 8], "horizon": "-PT5M"})  # observed 5 minutes after each event
    assert get_meter_data(api, [cs2], duration="PT30M")["values"] == [10, 20]
    assert get_meter_data(api, [cs2], duration="PT30M", prior="2021-01-02T12:00:00Z")["values"] == [1, 2]
    assert get_meter_data(api, [cs2], duration="PT30M", prior="2021-01-01T01:00:00Z")["values"] == [7, 8]
    assert get_meter_data(api, [cs2], duration="PT30M", horizon="-PT10M")["values"] == [7, 8]
    assert get_meter_data(api, [cs2], duration="PT30M", horizon="PT1H")["values"] == [None, None]


def test_source_filter_always_includes_the_requesting_user(api: ApiHarness) -> None:
    cs2 = ea(api, "CS 2")
    base = {"type": "PostMeterDataRequest", "connection": cs2, "start": START, "duration": "PT30M", "unit": "MW"}
    post_meter_data(api, {**base, "values": [1, 2], "prior": "2021-01-02T00:00:00Z"}, email=ALICE)
    post_meter_data(api, {**base, "values": [3, 4], "prior": "2021-01-03T00:00:00Z"}, email=CAROL)
    alice_id = str(api.world.users[ALICE])
    assert get_meter_data(api, [cs2], duration="PT30M")["values"] == [3, 4]
    assert get_meter_data(api, [cs2], duration="PT30M", source=alice_id)["values"] == [1, 2]
    assert get_meter_data(api, [cs2], duration="PT30M", source="MDC")["values"] == [1, 2]  # MDC users + Alice
    assert get_meter_data(api, [cs2], duration="PT30M", source="MDC", email=CAROL)["values"] == [3, 4]
    assert get_meter_data(api, [cs2], duration="PT30M", source=CAROL)["values"] == [3, 4]


def _login_new_user(api: ApiHarness, email: str, roles: list[str]) -> dict[str, str]:
    from commands import registry as cmd

    account = api.world.accounts["Gamma"]
    cmd.register_user(
        api.platform.commands, cmd.RegisterUser(email=email, password="p" * 8, account_id=account, roles=roles)
    )
    assert api.platform.wait_for(api.head())
    response = api.client.post("/api/requestAuthToken", json={"email": email, "password": "p" * 8})
    return {"Authorization": response.json()["auth_token"]}


def test_admin_and_auditor_reach_every_account(api: ApiHarness) -> None:
    admin = _login_new_user(api, "admin@gamma.test", ["admin"])
    listed = api.client.get("/api/v2_0/getConnection", headers=admin).json()["connections"]
    assert ea(api, "Other CS") in listed and ea(api, "CS 1") in listed
    message = {"type": "PostMeterDataRequest", "connection": ea(api, "Other CS"), "values": [1, 2]}
    message.update(start=START, duration="PT30M", unit="MW")
    posted = api.client.post("/api/v2_0/postMeterData", json=message, headers=admin)
    assert posted.status_code == 200, posted.text

    auditor = _login_new_user(api, "auditor@gamma.test", ["auditor"])
    assert ea(api, "Other CS") in api.client.get("/api/v2_0/getConnection", headers=auditor).json()["connections"]
    params = {"type": "GetMeterDataRequest", "connection": ea(api, "Other CS"), "start": START, "duration": "PT30M"}
    read = api.client.get("/api/v2_0/getMeterData", params={**params, "unit": "MW"}, headers=auditor)
    assert read.json()["values"] == [1, 2]
    refused = api.client.post("/api/v2_0/postMeterData", json=message, headers=auditor)  # read-only, no USEF role
    assert (refused.status_code, refused.json()["status"]) == (403, "INVALID_SENDER")
