"""HTTP ingest at 1, 8 and 16 clients, one process against two (``FLEXLEDGER_PROCESSORS_PROCESS``).

Both servers run at the same time, each on a fresh data folder; the load alternates between
them run by run (the order flips every run), so their ratio holds on a noisy machine even when
the absolute figures drift. Per server and client count it prints the medians over the runs of:
readings/s (96-value posts, each POST returns once the readings model shows it), the p50 and
p99 of the POSTs' latencies, and the server's resident memory (with its children) after each
run, so memory over repeated load shows too; and the CPU time each process spent per post
(``/proc``: user + system), the API process apart from its children. CPU per post does not
depend on how loaded the machine is as much as readings/s do: one process cannot serve more
than about 1 / (its CPU per post) posts per second (one interpreter lock, about one core);
two processes, about 1 / (the busier one's CPU per post), on a machine with two idle cores.

Run: ``.venv/bin/python bench/ingest_scale.py [--runs 5] [--posts 600] [--clients 1 8 16]``
(``--modes one`` or ``--modes two`` measures one deployment only).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, _children, median, percentile, rss_mb, server_process, temp_home  # noqa: E402
from bench.ingest import _post_day, _setup_sensor  # noqa: E402

MODES = {"one": {"FLEXLEDGER_PROCESSORS_PROCESS": "false"}, "two": {"FLEXLEDGER_PROCESSORS_PROCESS": "true"}}


def load_run(base: str, token: str, sensor: int, posts: int, clients: int, first_day: int) -> tuple[float, list[float]]:
    """(readings/s, latencies in ms) of ``posts`` daily posts from ``clients`` threads."""
    counter, lock, latencies = iter(range(posts)), threading.Lock(), []

    def worker() -> None:
        with httpx.Client() as client:
            while True:
                with lock:
                    day = next(counter, None)
                if day is None:
                    return
                latency = _post_day(client, base, token, sensor, first_day + day)
                with lock:
                    latencies.append(latency * 1000)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return posts * 96 / (time.perf_counter() - started), latencies


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process (Linux ``/proc``; 0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_split(pid: int) -> tuple[float, float]:
    """(CPU seconds of the server process, of its children) so far."""
    return cpu_s(pid), sum(cpu_s(child) for child in _children(pid))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per server and client count (alternating)")
    parser.add_argument("--posts", type=int, default=600, help="96-value posts per run")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 16])
    parser.add_argument("--modes", nargs="+", choices=list(MODES), default=list(MODES))
    args = parser.parse_args()
    results: dict[tuple[str, int], list[tuple[float, float, float, float]]] = {}
    with ExitStack() as stack:
        servers = {}
        for mode in args.modes:
            env = {**MODES[mode], "PYTHONPATH": str(ROOT)}  # this tree, not an installed copy
            base, token, process = stack.enter_context(server_process(temp_home(), env))
            servers[mode] = (base, token, _setup_sensor(base, token), process.pid)
        print(f"warm-up; then {args.runs} alternating runs of {args.posts} posts per client count", flush=True)
        for base, token, sensor, _ in servers.values():
            load_run(base, token, sensor, 100, 8, first_day=0)
        day = 1000
        for clients in args.clients:
            for run in range(args.runs):
                for mode in args.modes if run % 2 == 0 else list(reversed(args.modes)):
                    base, token, sensor, pid = servers[mode]
                    cpu_before = cpu_split(pid)
                    rate, latencies = load_run(base, token, sensor, args.posts, clients, day)
                    day += args.posts
                    cpu_after = cpu_split(pid)
                    cpu = [(cpu_after[i] - cpu_before[i]) * 1000 / args.posts for i in range(2)]
                    row = (rate, percentile(latencies, 50), percentile(latencies, 99), rss_mb(pid), *cpu)
                    results.setdefault((mode, clients), []).append(row)
                    print(f"  {mode} x{clients:<3} run {run + 1}: {rate:>8,.0f} readings/s, p50 {row[1]:.1f} ms, "
                          f"p99 {row[2]:.1f} ms, RSS {row[3]:.0f} MB, CPU/post {row[4]:.2f} + {row[5]:.2f} ms",
                          flush=True)  # fmt: skip
    report(results, args)


def report(results: dict, args: argparse.Namespace) -> None:
    print(f"\nmedians of {args.runs} runs x {args.posts} posts (96 values each); RSS: server and its children")
    print("CPU ms per post: the API process + its children (the processors' process with two)")
    head = f"{'processes':<10}{'clients':>8}{'readings/s':>12}{'p50 ms':>9}{'p99 ms':>9}{'RSS MB':>9}"
    print(f"{head}{'CPU ms/post':>16}")
    for (mode, clients), rows in results.items():
        rate, p50, p99, rss, api, child = (median([r[i] for r in rows]) for i in range(6))
        cpu = f"{api:.2f} + {child:.2f}"
        print(f"{mode:<10}{clients:>8}{rate:>12,.0f}{p50:>9.1f}{p99:>9.1f}{rss:>9.0f}{cpu:>16}")
    if len(args.modes) == 2:
        for clients in args.clients:
            one, two = (median([r[0] for r in results[(m, clients)]]) for m in args.modes)
            print(f"{args.modes[1]} / {args.modes[0]} readings/s at {clients} clients: {two / one:.2f}x")
    for mode in args.modes:
        rss = [r[3] for clients in args.clients for r in results[(mode, clients)]]
        print(f"RSS of {mode} after each run: {', '.join(f'{x:.0f}' for x in rss)} MB")


if __name__ == "__main__":
    main()
