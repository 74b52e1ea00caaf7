"""Realto-style command API over HTTP on the embedded platform with simulated devices: trigger now
or later, retrieve, list with from/to/status/pageSize/continuationToken (links.next, meta as in
the seed), cancel (PATCH), idempotency, and who may command (the device's account; auditors never)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from device_support import wait_for_status
from test_api_support import ALICE, BOB, PASSWORD, ApiHarness

from commands import registry as cmd
from domain import device_commands as dc

SEED = Path(__file__).resolve().parents[3] / "shared" / "seeds" / "realto-charge-sessions-api.txt"
AUDITOR = "audrey@alpha.test"


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    with ApiHarness(tmp_path_factory.mktemp("realto")) as running_harness:
        ctx = running_harness.platform.commands
        running_harness.world.users[AUDITOR] = cmd.register_user(ctx, cmd.RegisterUser(
            email=AUDITOR, password=PASSWORD, account_id=running_harness.world.accounts["Alpha"], roles=["auditor"]
        ))
        yield running_harness


@pytest.fixture
def api(harness: ApiHarness, request):
    """The shared platform with a fresh simulated device ``HP`` (its device id is per test)."""
    device_id = f"hp-{request.node.name}"
    harness.world.assets["HP"] = cmd.register_asset(harness.platform.commands, cmd.RegisterAsset(
        account_id=harness.world.accounts["Alpha"], name="HP", asset_type="heat_pump",
        attributes={"simulated": {"device_id": device_id}},
    ))
    harness.device = harness.platform.devices.simulated.get(device_id)
    assert harness.platform.wait_for(harness.head())
    return harness


def _url(api: ApiHarness, suffix: str = "") -> str:
    return f"/api/v1/entities/{api.asset('HP')}/commands{suffix}"


def _bearer(api: ApiHarness, email: str = ALICE) -> dict:
    return {"Authorization": f"Bearer {api.token(email)}"}


def _post(api: ApiHarness, body: dict, email: str = ALICE, **headers):
    return api.client.post(_url(api), json=body, headers={**_bearer(api, email), **headers})


def _seed_sample() -> dict:
    if not SEED.exists():
        pytest.skip(f"the Realto seed is absent ({SEED})")
    text = SEED.read_text()
    start = text.index("{\n\"data\"")
    depth = 0
    for end, char in enumerate(text[start:], start):
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth == 0:
            return json.loads(text[start:end + 1])
    raise AssertionError("no JSON sample in the seed")


def test_trigger_now_dispatches_and_reads_acknowledged(api):
    response = _post(api, {"command": "set_power", "parameters": {"power_kw": 3.5}, "reason": "schedule 7"})
    assert response.status_code == 201, response.text
    item = response.json()
    assert set(item) == {"id", "entityId", "created", "data"}
    assert item["entityId"] == str(api.asset("HP"))
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", item["created"])
    assert item["data"]["command"] == "set_power" and item["data"]["reason"] == "schedule 7"
    wait_for_status(api.platform.commands, item["id"], dc.ACKNOWLEDGED)
    assert api.platform.wait_for(api.head())
    got = api.client.get(_url(api, f"/{item['id']}"), headers=_bearer(api))
    assert got.status_code == 200
    assert got.json()["data"]["status"] == "acknowledged"
    assert got.json()["data"]["response"]["status"] == "Accepted"
    assert got.json()["data"]["attempts"] == 1
    assert len(api.device.received) == 1


def test_schedule_for_later_then_cancel(api):
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    item = _post(api, {"command": "stop_charging", "scheduledFor": later}).json()
    assert item["data"]["status"] == "scheduled"
    cancelled = api.client.patch(_url(api, f"/{item['id']}"), json={"status": "cancelled"}, headers=_bearer(api))
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["data"]["status"] == "cancelled"
    again = api.client.patch(_url(api, f"/{item['id']}"), json={"status": "cancelled"}, headers=_bearer(api))
    assert again.status_code == 200
    wrong = api.client.patch(_url(api, f"/{item['id']}"), json={"status": "acknowledged"}, headers=_bearer(api))
    assert wrong.status_code == 422 and wrong.json()["field"] == "status"
    assert api.device.received == []


def test_cancel_after_dispatch_is_refused_with_a_clear_code(api):
    api.device.behaviour = "silent"
    item = _post(api, {"command": "set_power", "parameters": {"power_kw": 1}}).json()
    wait_for_status(api.platform.commands, item["id"], dc.DISPATCHED)
    response = api.client.patch(_url(api, f"/{item['id']}"), json={"status": "cancelled"}, headers=_bearer(api))
    assert response.status_code == 409
    assert response.json()["status"] == "COMMAND_NOT_CANCELLABLE"


def test_idempotency_key_returns_the_same_command(api):
    body = {"command": "set_power", "parameters": {"power_kw": 2}}
    first = _post(api, body, **{"Idempotency-Key": "abc-1"})
    second = _post(api, body, **{"Idempotency-Key": "abc-1"})
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    by_body = _post(api, {**body, "commandId": "abc-1"})
    assert by_body.json()["id"] == first.json()["id"]
    different = _post(api, {**body, "parameters": {"power_kw": 5}}, **{"Idempotency-Key": "abc-1"})
    assert different.status_code == 409 and different.json()["status"] == "IDEMPOTENCY_KEY_REUSED"
    wait_for_status(api.platform.commands, first.json()["id"], dc.ACKNOWLEDGED)
    assert len(api.device.received) == 1


def test_list_pages_with_continuation_tokens_in_the_seed_shape(api):
    sample = _seed_sample()
    ids = [_post(api, {"command": "set_power", "parameters": {"power_kw": i}}).json()["id"] for i in range(5)]
    assert api.platform.wait_for(api.head())
    seen, url, pages = [], _url(api, "?pageSize=2"), []
    while url:
        page = api.client.get(url, headers=_bearer(api))
        assert page.status_code == 200, page.text
        body = page.json()
        assert set(body) == set(sample) and set(body["links"]) == set(sample["links"])
        assert set(body["meta"]) == set(sample["meta"]) and body["meta"]["pageSize"] == 2
        assert all(set(item) == set(sample["data"][0]) for item in body["data"])
        seen += [item["id"] for item in body["data"]]
        pages.append(body)
        url = body["links"]["next"]
    assert seen == ids and len(pages) == 3
    assert pages[-1]["meta"]["continuationToken"] is None


def test_list_filters_by_status_and_time(api):
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    scheduled = _post(api, {"command": "set_power", "parameters": {"power_kw": 1}, "scheduledFor": later}).json()
    assert api.platform.wait_for(api.head())
    only = api.client.get(_url(api), params={"status": "scheduled"}, headers=_bearer(api)).json()
    assert [i["id"] for i in only["data"]] == [scheduled["id"]]
    future = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    none = api.client.get(_url(api), params={"from": future}, headers=_bearer(api)).json()
    assert none["data"] == []
    until = api.client.get(_url(api), params={"to": future}, headers=_bearer(api)).json()
    assert [i["id"] for i in until["data"]] == [scheduled["id"]]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-01-01T00:00:00"}, "from"),
        ({"status": "bogus"}, "status"),
        ({"pageSize": 0}, "pageSize"),
        ({"continuationToken": "not-a-token"}, "continuationToken"),
    ],
)
def test_bad_list_queries_are_422_naming_the_field(api, params, field):
    response = api.client.get(_url(api), params=params, headers=_bearer(api))
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"command": "fly"}, "action"),
        ({"command": "set_power", "parameters": {"power_kw": "x"}}, "parameters.power_kw"),
        ({"command": "set_power", "parameters": {"power_kw": 1}, "scheduledFor": "2026-01-01T00:00:00"},
         "scheduledFor"),
    ],
)
def test_bad_commands_are_422_and_store_nothing(api, body, field):
    head = api.head()
    response = _post(api, body)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert api.head() == head


def test_only_the_devices_account_may_command_it(api):
    body = {"command": "set_power", "parameters": {"power_kw": 1}}
    head = api.head()
    assert _post(api, body, email=BOB).status_code == 403
    assert _post(api, body, email=AUDITOR).status_code == 403
    assert api.client.post(_url(api), json=body).status_code == 401
    assert api.head() == head
    item = _post(api, body).json()
    assert api.client.get(_url(api, f"/{item['id']}"), headers=_bearer(api, BOB)).status_code == 403
    assert api.client.get(_url(api, f"/{item['id']}"), headers=_bearer(api, AUDITOR)).status_code == 200
    other = api.client.get(f"/api/v1/entities/{api.asset('Other CS')}/commands/{item['id']}",
                           headers=_bearer(api, BOB))
    assert other.status_code == 404  # the command is not that entity's
    assert api.client.get("/api/v1/entities/999/commands", headers=_bearer(api)).status_code == 404


def test_a_device_without_a_gateway_cannot_be_commanded(api):
    response = api.client.post(f"/api/v1/entities/{api.asset('PV')}/commands", json={"command": "set_power",
                               "parameters": {"power_kw": 1}}, headers=_bearer(api))
    assert response.status_code == 422 and response.json()["status"] == "NO_DEVICE_GATEWAY"
