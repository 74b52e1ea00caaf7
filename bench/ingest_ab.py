"""Side-by-side HTTP ingest: alternating load runs against two servers.

On a shared machine absolute figures drift with the load; alternating short runs against two
servers started together makes the ratio meaningful; the servers' CPU time per post (``/proc``,
with their children) is printed too, as it depends less on the machine's load. Two comparisons:

* ``--before DIR``: a checkout of older code (e.g. ``git archive <commit> | tar -x -C
  /tmp/before``) against this tree, each on a fresh data folder;
* ``--history N``: this tree on a fresh data folder against this tree on a store that already
  holds N readings (100 sensors, 10,000-value events, every processor caught up): does ingest
  degrade as the store grows (issue #18: the same figure at 1 M and 10 M)? The servers'
  resident memory (with children) is printed after each run: with ``--history 10000000`` the
  second one is the server of a 10 M store (issue #18: under 300 MB).

Run: ``.venv/bin/python bench/ingest_ab.py --before /tmp/before [--runs 6 --posts 600]`` or
``.venv/bin/python bench/ingest_ab.py --history 10000000``
"""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, median, rss_mb, server_process, temp_home  # noqa: E402
from bench.ingest import _setup_sensor, http_throughput  # noqa: E402
from bench.ingest_scale import cpu_split  # noqa: E402
from infra.bootstrap import build_platform  # noqa: E402
from infra.settings import Settings  # noqa: E402


def store_with_history(readings: int) -> Path:
    """A data folder holding ``readings`` readings over 100 sensors, every processor caught up."""
    from bench.reads import fill

    home = temp_home()
    platform = build_platform(Settings(home=home, bcrypt_rounds=4))
    try:
        fill(platform, 100, max(1, readings // (100 * 96)), 0)
        platform.start()
        assert platform.wait_for(platform.store.head_position(), timeout_s=3600), "processors did not catch up"
    finally:
        platform.close()
    return home


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--before", type=Path, help="folder with the older code")
    which.add_argument("--history", type=int, help="readings already stored in the second server's store")
    parser.add_argument("--runs", type=int, default=6, help="runs per tree (alternating)")
    parser.add_argument("--posts", type=int, default=600, help="96-value posts per run")
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args()
    if args.before:
        trees = {"before": (args.before.resolve(), temp_home()), "after": (ROOT, temp_home())}
    else:
        trees = {"empty": (ROOT, temp_home()), f"{args.history:,}": (ROOT, store_with_history(args.history))}
    rates: dict[str, list[float]] = {name: [] for name in trees}
    cpu_ms: dict[str, list[float]] = {name: [] for name in trees}  # server CPU (with children) per post
    rss: dict[str, list[float]] = {name: [] for name in trees}  # server RSS (MB, with children) after each run
    with ExitStack() as stack:
        servers = {}
        for name, (tree, home) in trees.items():
            base, token, process = stack.enter_context(server_process(home, {"PYTHONPATH": str(tree)}))
            servers[name] = (base, token, _setup_sensor(base, token), process.pid)
        for run in range(args.runs):
            order = list(trees) if run % 2 == 0 else list(reversed(trees))
            for name in order:
                base, token, sensor, pid = servers[name]
                before = sum(cpu_split(pid))
                rate = http_throughput(base, token, sensor, args.posts, args.clients, first_day=run * args.posts)
                rates[name].append(rate)
                cpu_ms[name].append((sum(cpu_split(pid)) - before) * 1000 / args.posts)
                rss[name].append(rss_mb(pid))
                cpu, memory = cpu_ms[name][-1], rss[name][-1]
                print(f"run {run + 1} {name:<10} {rate:>9,.0f} readings/s, {cpu:.2f} CPU ms/post, "
                      f"RSS {memory:.0f} MB", flush=True)  # fmt: skip
    for name, values in rates.items():
        rate, cpu, memory = median(values), median(cpu_ms[name]), rss[name]
        print(f"{name:<6} median {rate:>9,.0f} readings/s, {cpu:.2f} CPU ms/post, RSS {memory[0]:.0f} -> "
              f"{memory[-1]:.0f} MB (max {max(memory):.0f}) ({trees[name][0]}, {trees[name][1]})")  # fmt: skip
    first, second = list(rates)
    print(f"{second} / {first}: {median(rates[second]) / median(rates[first]):.2f}x readings/s, "
          f"{median(cpu_ms[second]) / median(cpu_ms[first]):.2f}x CPU per post")  # fmt: skip


if __name__ == "__main__":
    main()
