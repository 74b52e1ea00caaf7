"""Memory benchmark: the server's resident memory across repeated ingest load and after a restart.

Starts ``flexledger serve`` on a fresh data folder, then ``--runs`` load runs of ``--posts``
96-value posts from 16 clients (every run posts new days, so history grows by
``posts x 96`` readings per run), and prints the server's resident memory (VmRSS, MB, with
its children) after each run once idle; then restarts the server on the same data and prints
its memory when idle and after one more run. Goal of issue #18: flat across runs (within 10 %
after the first, warm-up, run) and independent of history (after the restart about as low as
at the first start).

Quick (default: 6 runs x 400 posts = 0.23 M readings)::

    .venv/bin/python bench/memory.py

Longer (issue #18's five 30 s runs at ~18,000 readings/s is ~0.5 M readings per run)::

    .venv/bin/python bench/memory.py --runs 8 --posts 5000
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import rss_mb, server_process, temp_home  # noqa: E402
from bench.ingest import _setup_sensor, http_throughput  # noqa: E402


def settle(pid: int, seconds: float) -> float:
    """RSS (MB) after ``seconds`` of idle (followers catch up, checkpoints are saved)."""
    time.sleep(seconds)
    return rss_mb(pid)


def store_mb(home: Path) -> float:
    return sum(f.stat().st_size for f in home.rglob("*") if f.is_file()) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--posts", type=int, default=400, help="96-value posts per run")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--idle-s", type=float, default=3.0, help="idle time before each sample")
    args = parser.parse_args()
    home = temp_home()
    samples: list[tuple[str, float, float, int]] = []  # (label, RSS MB, readings/s, stored readings)
    stored = 0
    with server_process(home) as (base, token, server):
        sensor = _setup_sensor(base, token)
        samples.append(("start, idle", settle(server.pid, args.idle_s), 0.0, stored))
        for run in range(args.runs):
            rate = http_throughput(base, token, sensor, args.posts, args.clients, first_day=run * args.posts)
            stored += args.posts * 96
            samples.append((f"after run {run + 1}", settle(server.pid, args.idle_s), rate, stored))
    with server_process(home) as (base, token, server):
        httpx.get(f"{base}/api/v3_0/sensors", headers={"Authorization": token}).raise_for_status()
        samples.append(("restart, idle", settle(server.pid, args.idle_s), 0.0, stored))
        rate = http_throughput(base, token, sensor, args.posts, args.clients, first_day=args.runs * args.posts)
        stored += args.posts * 96
        samples.append(("restart + 1 run", settle(server.pid, args.idle_s), rate, stored))
    _report(samples, store_mb(home))


def _report(samples: list[tuple[str, float, float, int]], disk_mb: float) -> None:
    print(f"{'moment':<18} {'RSS MB':>8} {'readings/s':>11} {'stored readings':>16}")
    for label, rss, rate, stored in samples:
        print(f"{label:<18} {rss:>8.1f} {rate:>11,.0f} {stored:>16,}")
    runs = [rss for label, rss, _, _ in samples if label.startswith("after run")]
    if len(runs) >= 2:
        print(f"last run / first run (after warm-up): {runs[-1] / runs[0]:.2f} (goal <= 1.10)")
    restart = next(rss for label, rss, _, _ in samples if label == "restart, idle")
    print(f"restart idle / first start idle: {restart / samples[0][1]:.2f}; store on disk {disk_mb:.0f} MB")


if __name__ == "__main__":
    main()
