"""Auditors read, never write: every write route of the OpenAPI spec refuses an auditor.

The write routes are walked from ``app.openapi()`` (every POST, PUT, PATCH and DELETE except
the public login), so a route added later is covered without touching this test: the auditor
is refused before its request is even validated. The auditor belongs to account Alpha and
writes to Alpha's own objects; for the core routes (``BODIES``) the same requests are accepted
from alice, a plain user of Alpha: the refusal is about the role only. Auditors read every account
(the decision documented in ``api.authorization`` and the README).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from scheduling_support import ALICE, DAY, PASSWORD, SchedulingHarness

from api.authorization import NOT_AUDITED_WRITES
from commands import registry as cmd

AUDITOR = "auditor@alpha.test"
WRITE_METHODS = {"post", "put", "patch", "delete"}
BODIES = {
    "/api/v3_0/assets": {"name": "new", "generic_asset_type_id": 1},
    "/api/v3_0/assets/{asset_id}": {"name": "renamed"},
    "/api/v3_0/sensors": {"name": "new", "unit": "kWh", "event_resolution": "PT15M", "generic_asset_id": "<battery>"},
    "/api/v3_0/sensors/{sensor_id}": {"attributes": {"audited": True}},
    "/api/v3_0/sensors/{sensor_id}/data": {
        "values": [1.0], "start": DAY.isoformat(), "duration": "PT15M", "unit": "kW",
    },
    "/api/v3_0/assets/{asset_id}/schedules/trigger": {
        "start": DAY.isoformat(), "duration": "PT1H", "flex-model": [{"sensor": "<power>", "soc-at-start": "10 kWh"}],
    },
    "/api/v3_0/sensors/{sensor_id}/schedules/trigger": {
        "start": DAY.isoformat(), "duration": "PT1H", "flex-model": {"soc-at-start": "10 kWh"},
    },
    "/api/v3_0/sensors/{sensor_id}/forecasts/trigger": {"start": DAY.isoformat(), "duration": "PT6H"},
    "/api/v2_0/postMeterData": {
        "type": "PostMeterDataRequest", "connection": "<ea battery>", "values": [1.0], "start": DAY.isoformat(),
        "duration": "PT15M", "unit": "kW",
    },
    "/api/v2_0/postPrognosis": {
        "type": "PostPrognosisRequest", "connection": "<ea battery>", "values": [1.0],
        "start": (DAY + timedelta(days=1)).isoformat(), "duration": "PT15M", "unit": "kW",
    },
    "/api/v2_0/postUdiEvent": "<udi>",
}  # fmt: skip
CORE_DELETES = {"/api/v3_0/assets/{asset_id}", "/api/v3_0/sensors/{sensor_id}"}


@pytest.fixture(scope="module")
def harness(tmp_path_factory) -> Iterator[SchedulingHarness]:
    harness = SchedulingHarness(Path(tmp_path_factory.mktemp("auditors")))
    alpha = harness.world.accounts["Alpha"]
    cmd.register_user(
        harness.platform.commands,
        cmd.RegisterUser(email=AUDITOR, password=PASSWORD, account_id=alpha, roles=["auditor"]),
    )
    harness.wait_projected()
    yield harness
    harness.close()


def write_operations(harness: SchedulingHarness) -> list[tuple[str, str]]:
    """(method, path) of every write in the OpenAPI spec, but the public ones (login)."""
    paths = harness.client.app.openapi()["paths"]
    return [
        (method, path)
        for path, item in paths.items()
        for method in item
        if method in WRITE_METHODS and (method.upper(), path) not in NOT_AUDITED_WRITES
    ]


def _request(harness: SchedulingHarness, method: str, path: str) -> tuple[str, object]:
    """The URL (Alpha's battery and its sensor; other ids: 1) and the body alice would get accepted
    (``{}`` for a route without one in ``BODIES``)."""
    ids = {"asset_id": harness.world.assets["battery"], "sensor_id": harness.world.sensors["battery/power"]}
    url = re.sub(r"{(\w+)}", lambda m: str(ids.get(m.group(1), 1)), path)
    body = BODIES.get(path, {}) if method != "delete" else None
    if body == "<udi>":
        body = harness.udi_message(event_id=5)
    elif isinstance(body, dict):
        ea = f"ea1.2018-06.io.flexmeasures.company:{harness.world.accounts['Alpha']}:{ids['asset_id']}"
        placeholders = {"<battery>": ids["asset_id"], "<ea battery>": ea, "<power>": ids["sensor_id"]}
        body = json.loads(json.dumps(body), object_hook=lambda o: {
            k: placeholders.get(v, v) if isinstance(v, str) else v for k, v in o.items()
        })  # fmt: skip
    return url, body


def test_every_write_route_refuses_the_auditor(harness: SchedulingHarness) -> None:
    operations = write_operations(harness)
    assert len(operations) >= 13
    for method, path in operations:
        url, body = _request(harness, method, path)
        head = harness.head
        response = harness.client.request(method.upper(), url, json=body, headers=harness.headers(AUDITOR))
        answer = response.json()  # FlexMeasures' error shape, or MyEMS' under /myems
        code = answer.get("status") or answer.get("description", "").removeprefix("API.")
        assert (response.status_code, code) == (403, "INVALID_SENDER"), (method, path, answer)
        assert "auditor" in answer["message"]
        assert harness.head == head, (method, path)
    print(f"auditor writes refused: {len(operations)} write operations of the OpenAPI spec")


def test_the_same_writes_are_accepted_from_a_plain_user(harness: SchedulingHarness) -> None:
    """The bodies are valid: the auditor's refusal is about the role, not the request (deletes last)."""
    core = [op for op in write_operations(harness) if op[1] in BODIES or op[1] in CORE_DELETES]
    assert len(core) >= 13
    operations = sorted(core, key=lambda op: (op[0] == "delete", "assets" in op[1]))
    for method, path in operations:
        url, body = _request(harness, method, path)
        response = harness.client.request(method.upper(), url, json=body, headers=harness.headers(ALICE))
        assert response.status_code < 300, (method, path, response.status_code, response.text)
        harness.settle()


def test_auditor_reads_every_account_and_a_bad_token_is_still_401(harness: SchedulingHarness) -> None:
    beta = harness.world.accounts["Beta"]
    for url in ("/api/v3_0/sensors", "/api/v3_0/assets", "/api/v3_0/users", f"/api/v3_0/accounts/{beta}"):
        response = harness.client.get(url, params={"account_id": beta}, headers=harness.headers(AUDITOR))
        assert response.status_code == 200, (url, response.text)
    refused = harness.client.post("/api/v3_0/assets", json=BODIES["/api/v3_0/assets"], headers={"Authorization": "x"})
    assert refused.status_code == 401
