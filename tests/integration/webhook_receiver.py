"""A webhook receiver for the tests: a real HTTP server on 127.0.0.1 (in a thread).

It verifies each delivery's signature with the webhook's secret, answers 500 to the first
``fail_first`` attempts of each event (or always, with ``always_fail``) and 200 afterwards,
and records what it accepted, per event id.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from domain.webhook_signing import EVENT_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify


@dataclass
class Received:
    accepted: dict[str, list[dict]] = field(default_factory=dict)
    """event id -> the bodies answered with 200 (more than one: a duplicate delivery)."""
    attempts: dict[str, int] = field(default_factory=dict)
    bad_signatures: int = 0
    changed: threading.Condition = field(default_factory=threading.Condition)


class Receiver:
    """``with Receiver(secret=...) as receiver: receiver.url``."""

    def __init__(self, fail_first: int = 0, always_fail: bool = False):
        self.fail_first, self.always_fail, self.secret = fail_first, always_fail, ""
        self.received = Received()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = receiver.handle(self.headers, body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def handle(self, headers, body: bytes) -> int:
        received = self.received
        with received.changed:
            signed = verify(self.secret, headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER], time.time())
            if not signed:
                received.bad_signatures += 1
                received.changed.notify_all()
                return 401
            event_id = headers[EVENT_ID_HEADER]
            received.attempts[event_id] = received.attempts.get(event_id, 0) + 1
            if self.always_fail or received.attempts[event_id] <= self.fail_first:
                received.changed.notify_all()
                return 500
            received.accepted.setdefault(event_id, []).append(json.loads(body))
            received.changed.notify_all()
            return 200

    def wait_until(self, predicate, timeout_s: float = 30.0) -> bool:
        with self.received.changed:
            return self.received.changed.wait_for(lambda: predicate(self.received), timeout_s)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.server.shutdown()
        self.server.server_close()
