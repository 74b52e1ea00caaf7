"""Backpressure benchmark: HTTP ingest throughput with and without a stalled SSE subscriber.

A ``flexledger serve`` subprocess; 16 clients post 96-value readings
(``POST /api/v3_0/sensors/{id}/data``). Runs alternate between *baseline* (no subscriber) and
*stalled* (an SSE subscriber from position 0 with a 4 KiB receive buffer that never reads,
connected before the run, plus one healthy live subscriber that reads everything). Prints the
median readings/s of each and the change (issue 12: a stalled subscriber may not lower ingest
throughput by more than 10 %), and how many events the healthy subscriber received.

Run: ``.venv/bin/python bench/stream_backpressure.py [--quick]``
"""

from __future__ import annotations

import argparse
import socket
import sys
import threading
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import median, running_server, temp_home  # noqa: E402
from bench.ingest import _setup_sensor, http_throughput  # noqa: E402

CLIENTS = 16


def stalled_subscriber(base: str, token: str) -> socket.socket:
    """An SSE request from position 0 whose socket is never read (tiny receive buffer)."""
    host, port = base.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    sock.sendall(
        f"GET /api/v3_0/streams/events?from=0 HTTP/1.1\r\nHost: {host}\r\nAuthorization: {token}\r\n\r\n".encode()
    )
    return sock


class HealthySubscriber(threading.Thread):
    """Reads every new event (SSE) until stopped; counts them."""

    def __init__(self, base: str, token: str):
        super().__init__(daemon=True)
        self.base, self.token, self.received = base, token, 0
        self.stop = threading.Event()

    def run(self) -> None:
        url = f"{self.base}/api/v3_0/streams/events"
        with httpx.stream("GET", url, headers={"Authorization": self.token}, timeout=None) as response:
            for line in response.iter_lines():
                if line.startswith("id:"):
                    self.received += 1
                if self.stop.is_set():
                    return


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    posts, runs = (300, 3) if args.quick else (1000, 5)
    with running_server(temp_home()) as (base, token):
        sensor = _setup_sensor(base, token)
        http_throughput(base, token, sensor, posts, CLIENTS)  # warm-up; also history for the stalled reader
        baseline, stalled, both, healthy_counts = [], [], [], []
        for _ in range(runs):
            baseline.append(http_throughput(base, token, sensor, posts, CLIENTS))
            sock = stalled_subscriber(base, token)
            stalled.append(http_throughput(base, token, sensor, posts, CLIENTS))
            healthy = HealthySubscriber(base, token)
            healthy.start()
            both.append(http_throughput(base, token, sensor, posts, CLIENTS))
            healthy.stop.set()
            healthy_counts.append(healthy.received)
            sock.close()
    print(f"HTTP ingest, 96-value posts, {CLIENTS} clients, median of {runs} x {posts} posts (runs interleaved):")
    print(f"  no subscriber                : {median(baseline):>10,.0f} readings/s")
    for name, rates in (("stalled subscriber", stalled), ("stalled + healthy subscriber", both)):
        change = (median(rates) - median(baseline)) / median(baseline) * 100
        print(f"  {name:<29}: {median(rates):>10,.0f} readings/s ({change:+.1f} %)")
    print(
        f"  healthy subscriber received  : {min(healthy_counts)}..{max(healthy_counts)} events per run ({posts} posted)"
    )


if __name__ == "__main__":
    main()
