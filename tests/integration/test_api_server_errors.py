"""On a real server (uvicorn on 127.0.0.1, as ``flexledger serve`` runs it), errors that happen
before the app sees a request are JSON too: an over-long URL (414 from the server's parser or
from the app's guard) and a malformed request line (400)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from api.app import create_app
from infra.bootstrap import build_platform
from infra.http_server import server_config
from infra.settings import Settings

STARTUP_DEADLINE_S = 30.0


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[tuple[str, int]]:
    settings = Settings(home=Path(tmp_path_factory.mktemp("server")), bcrypt_rounds=4)
    platform = build_platform(settings)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(server_config(create_app(platform), "127.0.0.1", port, settings, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_DEADLINE_S
    while not server.started:  # bounded wait on a condition, not a timed assertion
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    yield "127.0.0.1", port
    server.should_exit = True
    thread.join(timeout=STARTUP_DEADLINE_S)
    platform.close()


def raw_request(address: tuple[str, int], request_line: bytes) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of one raw HTTP/1.1 request (clients refuse such URLs themselves)."""
    with socket.create_connection(address, timeout=STARTUP_DEADLINE_S) as conn:
        conn.sendall(request_line + b"\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


@pytest.mark.parametrize("url_bytes", [100_000, 30_000], ids=["100 KB (server parser)", "30 KB (app guard)"])
def test_a_long_url_is_a_json_414(server, url_bytes: int) -> None:
    status, headers, body = raw_request(server, b"GET /api/v3_0/sensors?x=" + b"a" * url_bytes + b" HTTP/1.1")
    assert status == 414
    assert headers["content-type"] == "application/json"
    assert json.loads(body)["status"] == "URI_TOO_LONG"


def test_a_malformed_request_is_a_json_400(server) -> None:
    status, headers, body = raw_request(server, b"GET /api/ HTTP/1.1\r\nBad Header Without Colon")
    assert status == 400
    assert headers["content-type"] == "application/json"
    assert json.loads(body)["status"] == "INVALID_HTTP_REQUEST"


def test_an_ordinary_request_still_works(server) -> None:
    status, headers, body = raw_request(server, b"GET /api/ HTTP/1.1")
    assert status == 200
    assert json.loads(body)["versions"] == ["v2_0", "v3_0"]
