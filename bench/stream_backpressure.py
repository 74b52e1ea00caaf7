"""Backpressure benchmark: HTTP ingest throughput with and without a stalled SSE subscriber.

A ``flexledger serve`` subprocess; 16 clients post 96-value readings
(``POST /api/v3_0/sensors/{id}/data``). Runs alternate between *baseline* (no subscriber) and
*stalled* (an SSE subscriber from position 0 with a 4 KiB receive buffer that never reads,
connected before the run), and *stalled + healthy* (plus one live subscriber, ``curl -N`` in its
own process, that reads everything). Prints the
median readings/s of each and the change (issue 12: a stalled subscriber may not lower ingest
throughput by more than 10 %), and how many events the healthy subscriber received.

Run: ``.venv/bin/python bench/stream_backpressure.py [--quick]``
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

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


class HealthySubscriber:
    """``curl -N`` following new events (SSE) in its own process (no GIL shared with the clients)."""

    def __init__(self, base: str, token: str):
        handle, name = tempfile.mkstemp(prefix="flexledger-sse-", suffix=".txt")
        os.close(handle)
        self.path = Path(name)
        url = f"{base}/api/v3_0/streams/events"
        with self.path.open("wb") as out:  # curl keeps its own copy of the descriptor
            self.process = subprocess.Popen(["curl", "-sN", url, "-H", f"Authorization: {token}"], stdout=out)

    def stop(self) -> int:
        """Stop following; returns how many events were received."""
        self.process.terminate()
        self.process.wait(10)
        count = sum(1 for line in self.path.read_text().splitlines() if line.startswith("id:"))
        self.path.unlink()
        return count


def one_run(base: str, token: str, sensor: int, posts: int, variant: str, healthy_counts: list[int]) -> float:
    """Readings/s of one run: no subscriber, a stalled one, or a stalled and a healthy one."""
    stalled = stalled_subscriber(base, token) if variant != "none" else None
    healthy = HealthySubscriber(base, token) if variant == "both" else None
    try:
        return http_throughput(base, token, sensor, posts, CLIENTS)
    finally:
        if healthy is not None:
            healthy_counts.append(healthy.stop())
        if stalled is not None:
            stalled.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    posts, runs = (300, 3) if args.quick else (1000, 5)
    with running_server(temp_home()) as (base, token):
        sensor = _setup_sensor(base, token)
        http_throughput(base, token, sensor, posts, CLIENTS)  # warm-up; also history for the stalled reader
        rates: dict[str, list[float]] = {"none": [], "stalled": [], "both": []}
        healthy_counts: list[int] = []
        for run in range(runs):
            order = ["none", "stalled", "both"]
            for variant in order[run % 3 :] + order[: run % 3]:  # rotate the order: no drift favours one
                rates[variant].append(one_run(base, token, sensor, posts, variant, healthy_counts))
    baseline, stalled, both = rates["none"], rates["stalled"], rates["both"]
    print(f"HTTP ingest, 96-value posts, {CLIENTS} clients, median of {runs} x {posts} posts (order rotated per run):")
    print(f"  no subscriber                : {median(baseline):>10,.0f} readings/s")
    for name, rates in (("stalled subscriber", stalled), ("stalled + healthy subscriber", both)):
        change = (median(rates) - median(baseline)) / median(baseline) * 100
        print(f"  {name:<29}: {median(rates):>10,.0f} readings/s ({change:+.1f} %)")
    print(
        f"  healthy subscriber received  : {min(healthy_counts)}..{max(healthy_counts)} events per run ({posts} posted)"
    )


if __name__ == "__main__":
    main()
