"""SSE and WebSocket subscriptions over real HTTP (uvicorn on 127.0.0.1): order, resume, scoping.

The Done-when of issue 12: a client receives, in order, the events of postUdiEvent → schedule,
disconnects mid-stream, reconnects with its last id and misses nothing, duplicates nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from live_server import LiveServer, sse_messages
from scheduling_support import ALICE, BOB, PASSWORD, SchedulingHarness
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from commands import registry as cmd
from commands.readings import RecordSensorData, record_sensor_data

AUDITOR = "auditor@audit.test"
TIMEOUT = httpx.Timeout(30.0)


@pytest.fixture
def harness(tmp_path) -> Iterator[SchedulingHarness]:
    h = SchedulingHarness(tmp_path)
    ctx = h.platform.commands
    account = cmd.register_account(ctx, cmd.RegisterAccount(name="Audit firm"))
    cmd.register_user(ctx, cmd.RegisterUser(email=AUDITOR, password=PASSWORD, account_id=account, roles=["auditor"]))
    h.wait_projected()
    try:
        yield h
    finally:
        h.close()


@pytest.fixture
def server(harness: SchedulingHarness) -> Iterator[LiveServer]:
    with LiveServer(harness.client.app) as live:
        yield live


def expected_ids(h: SchedulingHarness, after: int, email: str = ALICE) -> list[int]:
    """The positions of the events the user may see after ``after`` (the history endpoint)."""
    ids, page = [], {"next": after, "complete": False}
    while True:
        page = h.client.get(
            "/api/audit/events", params={"after": page["next"], "limit": 1000}, headers=h.headers(email)
        )
        page = page.json()
        ids += [e["id"] for e in page["events"]]
        if page["complete"]:
            return ids


def post_udi(h: SchedulingHarness, event_id: int) -> None:
    response = h.post_udi(h.udi_message(event_id=event_id))
    assert response.status_code == 200, response.text


def read_sse(server: LiveServer, h: SchedulingHarness, headers: dict, params: dict, until_id: int | None, count=None):
    """Messages of one SSE connection until the message with ``until_id`` (or ``count`` messages)."""
    got = []
    url = f"{server.url}/api/v3_0/streams/events"
    with httpx.stream("GET", url, params=params, headers={**h.headers(), **headers}, timeout=TIMEOUT) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for message in sse_messages(response):
            got.append(message)
            if (count is not None and len(got) == count) or (until_id is not None and int(message.id) >= until_id):
                return got
    raise AssertionError(f"stream ended early after {[m.id for m in got]}")


def sse_stream(server: LiveServer, h: SchedulingHarness, headers: dict, params: dict):
    url = f"{server.url}/api/v3_0/streams/events"
    return httpx.stream("GET", url, params=params, headers={**h.headers(), **headers}, timeout=TIMEOUT)


def test_sse_resume_with_last_event_id_misses_and_duplicates_nothing(harness, server) -> None:
    start = harness.head
    received = []
    with sse_stream(server, harness, {}, {"from": start}) as response:
        messages = sse_messages(response)
        post_udi(harness, 1)  # live
        received += [next(messages), next(messages)]  # then disconnect mid-stream
    post_udi(harness, 2)  # while disconnected
    harness.settle()
    with sse_stream(server, harness, {"Last-Event-ID": received[-1].id}, {}) as response:
        messages = sse_messages(response)
        caught_up = expected_ids(harness, start)[-1]
        while int(received[-1].id) < caught_up:  # catch-up from history
            received.append(next(messages))
        post_udi(harness, 3)  # live again
        harness.settle()
        final = expected_ids(harness, start)[-1]
        while int(received[-1].id) < final:
            received.append(next(messages))
    ids = [int(m.id) for m in received]
    assert ids == expected_ids(harness, start)
    events = [json.loads(m.text) for m in received]
    assert [e["id"] for e in events] == ids
    types = [e["type"] for e in events]
    assert types.index("UdiEventPosted") < types.index("ScheduleComputed")
    assert types.count("UdiEventPosted") == 3 and types.count("ScheduleComputed") == 3


def test_sse_live_after_catch_up_filtered_by_asset(harness, server) -> None:
    start = harness.head
    post_udi(harness, 1)
    harness.settle()
    battery = harness.world.assets["battery"]
    url = f"{server.url}/api/v3_0/streams/events"
    got = []
    with httpx.stream(
        "GET", url, params={"from": start, "asset": battery}, headers=harness.headers(), timeout=TIMEOUT
    ) as response:
        messages = sse_messages(response)
        for message in messages:  # catch-up from history
            got.append(json.loads(message.text))
            if got[-1]["type"] == "ScheduleComputed":
                break
        post_udi(harness, 2)  # live
        for message in messages:
            got.append(json.loads(message.text))
            if got[-1]["type"] == "ScheduleComputed":
                break
    ids = [e["id"] for e in got]
    assert ids == sorted(set(ids))
    assert [e["type"] for e in got].count("UdiEventPosted") == 2
    assert all(e["stream_id"] not in (f"udi-{harness.world.assets['evse']}",) for e in got)
    assert set(ids) <= set(expected_ids(harness, start))


def test_subscribers_see_only_their_account(harness, server) -> None:
    start = harness.head
    post_udi(harness, 1)
    harness.settle()
    beta_sensor = harness.world.sensors["beta-battery/power"]
    record_sensor_data(
        harness.platform.commands,
        RecordSensorData(sensor_id=beta_sensor, start="2015-06-02T10:00:00Z", duration="PT1H", values=[1, 2, 3, 4],
                         unit="kW", source="bob"),
    )  # fmt: skip
    bob_ids = expected_ids(harness, start, BOB)
    assert len(bob_ids) == 1
    got = read_sse(server, harness, {**harness.headers(BOB)}, {"from": start}, bob_ids[-1])
    assert [int(m.id) for m in got] == bob_ids
    assert json.loads(got[0].text)["data"]["sensor_id"] == beta_sensor


def test_auditor_sees_all_but_no_credentials(harness, server) -> None:
    got = read_sse(server, harness, harness.headers(AUDITOR), {"from": 0, "type": "UserRegistered"}, None, count=3)
    users = [json.loads(m.text)["data"] for m in got]
    assert {u["email"] for u in users} == {ALICE, BOB, AUDITOR}
    assert not [u for u in users if "password_hash" in u]


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"sensor": 1}, 403, "sensor"),  # the market's prices: Alpha's, asked for by Bob
        ({"asset": 9999}, 404, "asset"),
        ({"since": "2015-06-02T10:00:00"}, 422, "since"),
        ({"from": -1}, 422, "from"),
    ],
)
def test_bad_subscriptions_are_refused_before_streaming(harness, params, status, field) -> None:
    response = harness.client.get("/api/v3_0/streams/events", params=params, headers=harness.headers(BOB))
    assert response.status_code == status, response.text
    assert response.json()["field"] == field


def test_websocket_resume_misses_and_duplicates_nothing(harness, server) -> None:
    start = harness.head
    ws_url = server.url.replace("http", "ws") + "/api/v3_0/streams/ws"
    received = []
    with connect(f"{ws_url}?from={start}", additional_headers=harness.headers(), open_timeout=30) as ws:
        post_udi(harness, 1)  # live
        received += [json.loads(ws.recv(timeout=30)) for _ in range(2)]
    post_udi(harness, 2)
    harness.settle()
    expected = expected_ids(harness, start)
    headers = {**harness.headers(), "Last-Event-ID": str(received[-1]["id"])}
    with connect(ws_url, additional_headers=headers, open_timeout=30) as ws:
        while received[-1]["id"] < expected[-1]:
            received.append(json.loads(ws.recv(timeout=30)))
    assert [e["id"] for e in received] == expected
    assert [e["type"] for e in received].count("ScheduleComputed") == 2


def test_websocket_refuses_bad_tokens(harness, server) -> None:
    ws_url = server.url.replace("http", "ws") + "/api/v3_0/streams/ws"
    with pytest.raises(InvalidStatus) as refused:
        connect(ws_url, additional_headers={"Authorization": "nope"}, open_timeout=30)
    assert refused.value.response.status_code == 403


def test_stream_keys_read_streams_and_history_only(harness, server) -> None:
    start = harness.head
    post_udi(harness, 1)
    harness.settle()
    created = harness.client.post("/api/v3_0/streams/keys", headers=harness.headers())
    assert created.status_code == 201, created.text
    key = {"Authorization": created.json()["stream_key"]}
    assert created.json()["scope"] == "streams:read" and key["Authorization"].startswith("fls_")
    expected = expected_ids(harness, start)
    got = read_sse(server, harness, key, {"from": start}, expected[-1])
    assert [int(m.id) for m in got] == expected
    history = harness.client.get("/api/audit/events", params={"after": start}, headers=key)
    assert [e["id"] for e in history.json()["events"]] == expected
    sensor = harness.world.sensors["battery/power"]
    body = {"start": "2015-06-02T10:00:00Z", "duration": "PT1H", "unit": "kW", "values": [1, 2, 3, 4]}
    assert harness.client.post(f"/api/v3_0/sensors/{sensor}/data", json=body, headers=key).status_code == 401
    assert harness.client.get("/api/v3_0/sensors", headers=key).status_code == 401
    assert harness.client.post("/api/v3_0/streams/keys", headers=key).status_code == 401
    forged = {"Authorization": key["Authorization"][:-2] + "xx"}
    assert harness.client.get("/api/audit/events", headers=forged).status_code == 401
