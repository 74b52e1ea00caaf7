"""MyEMS-compatible commands family under /myems with User-UUID/Token headers: login, create
(201 + Location), list, get, update, export, import, clone, delete, send with set_value (a device
command the dispatcher delivers to a simulated device); MyEMS error bodies; tenant isolation."""

from __future__ import annotations

import pytest
from device_support import wait_for_status
from test_api_support import ALICE, BOB, PASSWORD, ApiHarness

from commands import registry as cmd
from domain import device_commands as dc


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    with ApiHarness(tmp_path_factory.mktemp("myems")) as harness:
        harness.world.assets["Light"] = cmd.register_asset(harness.platform.commands, cmd.RegisterAsset(
            account_id=harness.world.accounts["Alpha"], name="Light", asset_type="building",
            attributes={"simulated": {"device_id": "light-1"}},
        ))
        assert harness.platform.wait_for(harness.head())
        yield harness


def _login(api: ApiHarness, email: str = ALICE) -> dict:
    response = api.client.put("/myems/users/login", json={"data": {"email": email, "password": PASSWORD}})
    assert response.status_code == 200, response.text
    body = response.json()
    return {"User-UUID": body["uuid"], "Token": body["token"]}


def _definition(api: ApiHarness, **overrides) -> dict:
    return {"name": "turn_up_light", "topic": "myems/point/2", "payload": "{address:1, slave_id:1, set_value: $s1}",
            "set_value": 2.0, "description": "turn up light", "asset_id": api.asset("Light"), **overrides}


def _create(api: ApiHarness, headers: dict, **overrides) -> int:
    response = api.client.post("/myems/commands", json={"data": _definition(api, **overrides)}, headers=headers)
    assert response.status_code == 201, response.text
    return int(response.headers["Location"].rsplit("/", 1)[1])


def test_crud_export_import_clone(api):
    headers = _login(api)
    command_id = _create(api, headers)
    item = api.client.get(f"/myems/commands/{command_id}", headers=headers).json()
    assert set(item) == {"id", "name", "uuid", "topic", "payload", "set_value", "description", "asset_id"}
    assert (item["name"], item["topic"], item["set_value"]) == ("turn_up_light", "myems/point/2", 2.0)
    assert command_id in [c["id"] for c in api.client.get("/myems/commands", headers=headers).json()]
    updated = api.client.put(f"/myems/commands/{command_id}", headers=headers,
                             json={"data": _definition(api, name="turn_off_light", set_value=None)})
    assert updated.status_code == 200
    exported = api.client.get(f"/myems/commands/{command_id}/export", headers=headers).json()
    assert (exported["name"], exported["set_value"]) == ("turn_off_light", None)
    imported = api.client.post("/myems/commands/import", json={"data": _definition(api, name="imp")},
                               headers=headers)
    assert imported.status_code == 201
    clone = api.client.post(f"/myems/commands/{command_id}/clone", headers=headers)
    assert clone.status_code == 201
    clone_item = api.client.get(clone.headers["Location"], headers=headers).json()
    assert clone_item["name"] == "turn_off_light (copy)" and clone_item["id"] != command_id
    assert api.client.delete(f"/myems/commands/{command_id}", headers=headers).status_code == 204
    missing = api.client.get(f"/myems/commands/{command_id}", headers=headers)
    assert missing.status_code == 404
    assert missing.json()["title"] == "API.NOT_FOUND" and missing.json()["description"] == "API.COMMAND_NOT_FOUND"


def test_send_with_set_value_reaches_the_device(api):
    headers = _login(api)
    command_id = _create(api, headers)
    sent = api.client.put(f"/myems/commands/{command_id}/send", json={"data": {"set_value": 3.5}}, headers=headers)
    assert sent.status_code == 200, sent.text
    state = wait_for_status(api.platform.commands, sent.json()["device_command_id"], dc.ACKNOWLEDGED)
    assert state.requested.action == "set_value"
    assert state.requested.parameters["payload"] == "{address:1, slave_id:1, set_value: 3.5}"
    received = api.platform.devices.simulated.get("light-1").received[-1]
    assert received.parameters["value"] == 3.5


def test_auth_headers_and_isolation(api):
    alice, bob = _login(api), _login(api, BOB)
    command_id = _create(api, alice)
    assert api.client.get("/myems/commands").status_code == 401
    wrong_uuid = {**alice, "User-UUID": bob["User-UUID"]}
    refused = api.client.get("/myems/commands", headers=wrong_uuid)
    assert refused.status_code == 401 and refused.json()["description"] == "API.INVALID_SESSION"
    assert command_id not in [c["id"] for c in api.client.get("/myems/commands", headers=bob).json()]
    assert api.client.get(f"/myems/commands/{command_id}", headers=bob).status_code == 403
    head = api.head()
    assert api.client.put(f"/myems/commands/{command_id}/send", json={"data": {}}, headers=bob).status_code == 403
    assert api.client.post("/myems/commands", json={"data": _definition(api)}, headers=bob).status_code == 403
    assert api.head() == head


def test_bad_input_is_400_in_myems_shape(api):
    headers = _login(api)
    response = api.client.post("/myems/commands", json={"data": _definition(api, name="")}, headers=headers)
    assert response.status_code == 400
    assert response.json()["title"] == "API.BAD_REQUEST" and response.json()["field"] == "name"
    no_value = _create(api, headers, set_value=None)
    response = api.client.put(f"/myems/commands/{no_value}/send", json={"data": {}}, headers=headers)
    assert response.status_code == 400 and response.json()["description"] == "API.INVALID_SET_VALUE"
    assert api.client.put("/myems/users/login", json={"data": {"email": ALICE, "password": "nope"}}).status_code == 400
