"""A real uvicorn server on 127.0.0.1 (in a thread) serving an app, and a small SSE client.

For the streaming tests: Starlette's TestClient cannot show a stalled reader or TCP
backpressure. The server runs without lifespan (the test's harness already runs the platform).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import uvicorn

STARTUP_TIMEOUT_S = 30.0


class LiveServer:
    """``with LiveServer(app) as server: server.url``; stops on exit (bounded)."""

    def __init__(self, app):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(app, lifespan="off", log_level="warning", timeout_graceful_shutdown=2)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        started = threading.Event()
        for _ in range(int(STARTUP_TIMEOUT_S * 20)):
            if self.server.started:
                started.set()
                break
            started.wait(0.05)
        assert started.is_set(), "uvicorn did not start"
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()


@dataclass
class SseMessage:
    id: str | None = None
    event: str = "message"
    data: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.data)


def sse_messages(response: httpx.Response) -> Iterator[SseMessage]:
    """Parse a ``text/event-stream`` response into messages (comments, e.g. pings, are skipped)."""
    message = SseMessage()
    for line in response.iter_lines():
        if not line:
            if message.data:
                yield message
            message = SseMessage()
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "id":
            message.id = value
        elif name == "event":
            message.event = value
        elif name == "data":
            message.data.append(value)
