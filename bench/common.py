"""Helpers shared by the benchmarks: a temp platform, a server subprocess, statistics."""

from __future__ import annotations

import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
FLEXLEDGER = str(Path(sys.executable).parent / "flexledger")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def median(values: list[float]) -> float:
    return statistics.median(values)


@contextmanager
def running_server(home: Path, env: dict | None = None):
    """Start ``flexledger serve`` on a free port with a bench user; yields (base url, auth token)."""
    with server_process(home, env) as (base, token, _):
        yield base, token


def create_bench_user(home: Path, environment: dict) -> tuple[str, str]:
    """(email, password) of an admin user in ``home`` (created once; again is a no-op failure)."""
    email, password = "bench@flexledger.io", "bench-password"
    command = [FLEXLEDGER, "users", "create", "--email", email, "--password", password]
    command += ["--role", "admin", "--account", "Bench", "--data-dir", str(home)]
    subprocess.run(command, check=False, env=environment, capture_output=True)
    return email, password


@contextmanager
def server_process(home: Path, env: dict | None = None):
    """Like :func:`running_server`, also yielding the server's ``Popen`` (for its pid)."""
    import os

    environment = {**os.environ, "FLEXLEDGER_BCRYPT_ROUNDS": "4", **(env or {})}
    email, password = create_bench_user(home, environment)
    port = free_port()
    log = (home / "server.log").open("ab")
    server = subprocess.Popen(
        [FLEXLEDGER, "serve", "--port", str(port), "--data-dir", str(home)],
        env=environment,
        stdout=log,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        token = _login(base, email, password, server)
        yield base, token, server
    finally:
        server.terminate()
        server.wait(10)
        log.close()


def rss_mb(pid: int) -> float:
    """Resident memory (MB) of a process and its children (Linux ``/proc``)."""
    total_kb = 0
    for candidate in [pid, *_children(pid)]:
        try:
            status = Path(f"/proc/{candidate}/status").read_text()
        except FileNotFoundError:
            continue
        total_kb += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return total_kb / 1024


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        children = (task / "children").read_text().split() if (task / "children").exists() else []
        for child in map(int, children):
            found += [child, *_children(child)]
    return found


def _login(base: str, email: str, password: str, server: subprocess.Popen) -> str:
    deadline = time.monotonic() + 120  # a loaded machine may take long to import and start
    while True:
        try:
            response = httpx.post(f"{base}/api/requestAuthToken", json={"email": email, "password": password})
            if response.status_code == 200:
                return response.json()["auth_token"]
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            raise RuntimeError("server did not start (see server.log in the data folder)")
        time.sleep(0.2)


def call_in_tree(tree: Path, module: str, function: str, *args):
    """``module.function(*args)`` run by a fresh interpreter on the code of ``tree`` (e.g. a checkout
    of older code: ``git archive main | tar -x -C /tmp/perf-before``); its result, which must be a literal."""
    import ast
    import os

    code = f"import sys; sys.path.insert(0, {str(tree)!r}); import {module} as m; print(repr(m.{function}(*{args!r})))"
    environment = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run([sys.executable, "-c", code], cwd=tree, env=environment, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{module}.{function} failed in {tree}:\n{done.stderr[-2000:]}")
    return ast.literal_eval(done.stdout.strip().splitlines()[-1])


def alternate(trees: dict[str, Path], runs: int, measure) -> dict[str, list]:
    """``measure(tree)`` ``runs`` times per tree, alternating the order run by run (same machine state)."""
    results: dict[str, list] = {name: [] for name in trees}
    for run in range(runs):
        for name in list(trees) if run % 2 == 0 else list(reversed(trees)):
            results[name].append(measure(trees[name]))
            print(f"  run {run + 1} {name}: {results[name][-1]}", flush=True)
    return results


def temp_home() -> Path:
    return Path(tempfile.mkdtemp(prefix="flexledger-bench-"))
