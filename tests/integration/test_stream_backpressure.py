"""Backpressure: a stalled SSE subscriber under ingestion load (real uvicorn on 127.0.0.1).

A raw socket subscribes to every event from position 0 (several MB: big sensor-attribute
changes are seeded) with a tiny receive buffer and never reads. Meanwhile 4 clients ingest
readings over HTTP and a healthy subscriber follows them live. Expected: every ingest call
succeeds, the healthy subscriber receives every ingested event in order, the stalled one is
disconnected by the server (send timeout), and resuming from the last id it received gives
the rest of the history without gap or duplicate. Throughput figures: ``bench/stream_backpressure.py``.
"""

from __future__ import annotations

import json
import socket
import threading
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from live_server import LiveServer, sse_messages
from test_api_support import ALICE, ApiHarness

from commands import registry as cmd

CLIENTS, POSTS_PER_CLIENT = 4, 15
BIG_CHANGES, BIG_CHANGE_BYTES = 20, 300_000
START = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture
def api(tmp_path):
    with ApiHarness(tmp_path, stream_send_timeout_s=1.0) as harness:
        sensor = harness.sensor("Meter/energy")
        for i in range(BIG_CHANGES):  # ~9 MB of history: more than the socket buffers hold
            notes = f"{i:06d}" * (BIG_CHANGE_BYTES // 6)
            cmd.change_sensor(
                harness.platform.commands, cmd.ChangeSensor(sensor_id=sensor, changes={"attributes": {"notes": notes}})
            )
        yield harness


def stalled_subscriber(url: str, token: str) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    host, port = url.removeprefix("http://").split(":")
    sock.connect((host, int(port)))
    request = f"GET /api/v3_0/streams/events?from=0 HTTP/1.1\r\nHost: {host}\r\nAuthorization: {token}\r\n\r\n"
    sock.sendall(request.encode())
    return sock


def read_until_closed(sock: socket.socket, timeout_s: float = 60.0) -> bytes:
    """Everything the server sent, once it closed the connection (a bounded wait)."""
    sock.settimeout(timeout_s)
    chunks = []
    try:
        while chunk := sock.recv(1 << 20):
            chunks.append(chunk)
    except ConnectionResetError:
        pass
    return b"".join(chunks)


def complete_sse_ids(raw: bytes) -> list[int]:
    """Ids of the complete SSE messages in a raw chunked HTTP response (a truncated tail is ignored)."""
    _, _, body = raw.partition(b"\r\n\r\n")
    data = bytearray()
    while body:
        size_line, sep, rest = body.partition(b"\r\n")
        if not sep or not size_line.strip():
            break
        size = int(size_line, 16)
        if size == 0 or len(rest) < size:
            data += rest[:size]
            break
        data += rest[:size]
        body = rest[size + 2 :]
    messages = bytes(data).replace(b"\r\n", b"\n").split(b"\n\n")[:-1]  # the last one may be partial
    ids = []
    for message in messages:
        for line in message.split(b"\n"):
            if line.startswith(b"id:"):
                ids.append(int(line[3:].strip()))
    return ids


def ingest(server_url: str, token: str, sensor: int, client: int, failures: list) -> None:
    with httpx.Client(base_url=server_url, headers={"Authorization": token}, timeout=60) as http:
        for n in range(POSTS_PER_CLIENT):
            start = START + timedelta(days=client * 100 + n)
            body = {"start": start.isoformat(), "duration": "PT1H", "unit": "kW", "values": [1.0, 2.0, 3.0, float(n)]}
            response = http.post(f"/api/v3_0/sensors/{sensor}/data", json=body)
            if response.status_code != 200:
                failures.append(response.text)


def follow(server_url: str, token: str, sensor: int, start: int, expected: int, got: list) -> None:
    params = {"from": start, "sensor": sensor, "type": "SensorDataRecorded"}
    url = f"{server_url}/api/v3_0/streams/events"
    with httpx.stream("GET", url, params=params, headers={"Authorization": token}, timeout=60) as response:
        for message in sse_messages(response):
            got.append(json.loads(message.text))
            if len(got) == expected:
                return


def test_a_stalled_subscriber_is_dropped_without_slowing_ingestion_or_others(api: ApiHarness) -> None:
    sensor, token = api.sensor("CS 1/power"), api.token(ALICE)
    start = api.head()
    with LiveServer(api.app) as server:
        stalled = stalled_subscriber(server.url, token)
        healthy: list[dict] = []
        expected = CLIENTS * POSTS_PER_CLIENT
        follower = threading.Thread(target=follow, args=(server.url, token, sensor, start, expected, healthy))
        follower.start()
        failures: list[str] = []
        clients = [
            threading.Thread(target=ingest, args=(server.url, token, sensor, c, failures)) for c in range(CLIENTS)
        ]
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join(timeout=120)
        follower.join(timeout=120)
        assert not failures
        assert len(healthy) == expected, f"healthy subscriber got {len(healthy)} of {expected}"
        assert [e["id"] for e in healthy] == sorted({e["id"] for e in healthy})

        stats = api.app.state.audit.streams.stats
        assert stats.wait_until(lambda s: s.stalled_disconnects == 1, 60), stats.as_dict()
        assert stats.lagging_disconnects == 0
        raw = read_until_closed(stalled)  # returns because the server closed the stalled stream
        stalled.close()
        received = complete_sse_ids(raw)
        everything = api.head()
        assert received and received[-1] < everything  # cut off well before the end
        resumed = []
        headers = {"Authorization": token, "Last-Event-ID": str(received[-1])}
        url = f"{server.url}/api/v3_0/streams/events"
        with httpx.stream("GET", url, headers=headers, timeout=60) as response:
            for message in sse_messages(response):
                resumed.append(int(message.id))
                if resumed[-1] >= everything:
                    break
    visible = received + resumed
    assert visible == sorted(set(visible))
    history = api.client.get("/api/audit/events", params={"limit": 1000}, headers=api.auth()).json()
    assert [e["id"] for e in history["events"]][: len(visible)] == visible


def test_a_live_subscriber_too_far_behind_is_told_where_to_resume(tmp_path) -> None:
    with ApiHarness(tmp_path, stream_max_lag_s=1e-9) as api, LiveServer(api.app) as server:
        sensor, start = api.sensor("CS 1/power"), api.head()
        url = f"{server.url}/api/v3_0/streams/events"
        with httpx.stream("GET", url, params={"from": start}, headers=api.auth(), timeout=60) as response:
            messages = sse_messages(response)
            assert api.app.state.audit.streams.stats.wait_until(lambda s: s.caught_up == 1, 30)
            ingest(server.url, api.token(ALICE), sensor, 0, failures := [])  # arrives after the head was reached
            lagging = next(messages)
            assert list(messages) == []  # then the server ends the stream
        assert not failures
        assert (lagging.event, json.loads(lagging.text)) == ("lagging", {"resume_from": start})
        assert api.app.state.audit.streams.stats.lagging_disconnects == 1
