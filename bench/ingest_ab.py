"""Side-by-side HTTP ingest: two code trees, alternating load runs against both servers.

On a shared machine absolute figures drift with the load; alternating short runs against a
server of each tree (started together, each on its own fresh data folder) makes the ratio
meaningful. ``--before DIR`` is a checkout of the older code (e.g. ``git archive <commit> |
tar -x -C /tmp/before``); the other tree is this one.

Run: ``.venv/bin/python bench/ingest_ab.py --before /tmp/before [--runs 6 --posts 600]``
"""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, median, server_process, temp_home  # noqa: E402
from bench.ingest import _setup_sensor, http_throughput  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", required=True, type=Path, help="folder with the older code")
    parser.add_argument("--runs", type=int, default=6, help="runs per tree (alternating)")
    parser.add_argument("--posts", type=int, default=600, help="96-value posts per run")
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args()
    trees = {"before": args.before.resolve(), "after": ROOT}
    rates: dict[str, list[float]] = {name: [] for name in trees}
    with ExitStack() as stack:
        servers = {}
        for name, tree in trees.items():
            base, token, _ = stack.enter_context(server_process(temp_home(), {"PYTHONPATH": str(tree)}))
            servers[name] = (base, token, _setup_sensor(base, token))
        for run in range(args.runs):
            order = list(trees) if run % 2 == 0 else list(reversed(trees))
            for name in order:
                base, token, sensor = servers[name]
                rate = http_throughput(base, token, sensor, args.posts, args.clients, first_day=run * args.posts)
                rates[name].append(rate)
                print(f"run {run + 1} {name:<6} {rate:>9,.0f} readings/s", flush=True)
    for name, values in rates.items():
        print(f"{name:<6} median {median(values):>9,.0f} readings/s ({trees[name]})")
    print(f"after / before: {median(rates['after']) / median(rates['before']):.2f}x")


if __name__ == "__main__":
    main()
