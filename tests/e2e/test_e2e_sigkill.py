"""Crash safety: SIGKILL the server during a concurrent bulk import over HTTP, restart, compare.

Every POST that was answered 200 must be readable after the restart; a POST cut off by the
kill is stored completely or not at all (one event per POST); nothing is stored twice.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa
from e2e_server import SETTINGS, ServerProcess, login, seed

from infra.bootstrap import build_platform
from infra.settings import Settings
from projections.readings import readings

pytestmark = pytest.mark.e2e

BLOCKS, VALUES_PER_BLOCK, WORKERS = 600, 10, 8
KILL_AFTER_ACKS = 80
START = datetime(2021, 7, 1, tzinfo=UTC)
CATCH_UP_DEADLINE_S = 60.0


def block_values(block: int) -> list[float]:
    return [block * VALUES_PER_BLOCK + i + 0.5 for i in range(VALUES_PER_BLOCK)]


class BulkImport:
    """Posts every block once from a thread pool; records which POSTs were acknowledged."""

    def __init__(self, url: str, token: str, sensor_id: int):
        self.url, self.headers, self.sensor_id = url, {"Authorization": token}, sensor_id
        self.acked: set[int] = set()
        self.failed: set[int] = set()
        self.enough_acked = threading.Event()
        self._lock = threading.Lock()

    def post(self, client: httpx.Client, block: int) -> None:
        body = {
            "start": (START + timedelta(minutes=VALUES_PER_BLOCK * block)).isoformat(),
            "duration": f"PT{VALUES_PER_BLOCK}M",
            "unit": "kW",
            "values": block_values(block),
        }
        try:
            response = client.post(
                f"{self.url}/api/v3_0/sensors/{self.sensor_id}/data", json=body, headers=self.headers
            )
            ok = response.status_code == 200
        except httpx.TransportError:
            ok = False
        with self._lock:
            (self.acked if ok else self.failed).add(block)
            if len(self.acked) >= KILL_AFTER_ACKS:
                self.enough_acked.set()


def read_all_values(url: str, token: str, sensor_id: int) -> list[float | None]:
    params = {"start": START.isoformat(), "duration": f"PT{BLOCKS * VALUES_PER_BLOCK}M", "resolution": "PT1M"}
    response = httpx.get(
        f"{url}/api/v3_0/sensors/{sensor_id}/data", params=params, headers={"Authorization": token}, timeout=60
    )
    assert response.status_code == 200, response.text
    return response.json()["values"]


def blocks_present(values: list[float | None]) -> dict[int, list[float | None]]:
    by_block = {b: values[b * VALUES_PER_BLOCK : (b + 1) * VALUES_PER_BLOCK] for b in range(BLOCKS)}
    return {b: v for b, v in by_block.items() if any(x is not None for x in v)}


def test_acknowledged_posts_survive_sigkill(server_factory: ServerProcess) -> None:
    seeded = seed(server_factory.home, sensor_resolution_s=60)
    server = server_factory.start()
    token = login(server.url)
    bulk = BulkImport(server.url, token, seeded.sensor_id)

    with httpx.Client(timeout=30) as client, ThreadPoolExecutor(WORKERS) as pool:
        futures = [pool.submit(bulk.post, client, block) for block in range(BLOCKS)]
        assert bulk.enough_acked.wait(timeout=300), f"only {len(bulk.acked)} POSTs acknowledged:\n{server.log_text()}"
        server.kill()
        for future in futures:
            future.result()
    assert len(bulk.acked) + len(bulk.failed) == BLOCKS
    assert bulk.failed, "every POST finished before the kill; raise BLOCKS"

    server.start()  # same data folder: the event store and read models survived the kill
    deadline = time.monotonic() + CATCH_UP_DEADLINE_S
    present = blocks_present(read_all_values(server.url, token, seeded.sensor_id))
    while not bulk.acked <= set(present) and time.monotonic() < deadline:  # projections catch up after the restart
        time.sleep(0.2)
        present = blocks_present(read_all_values(server.url, token, seeded.sensor_id))

    missing = sorted(bulk.acked - set(present))
    assert not missing, f"acknowledged but lost after SIGKILL: blocks {missing[:20]}"
    for block, values in present.items():
        assert values == block_values(block), f"block {block} is partial or wrong: {values}"
    server.stop()

    platform = build_platform(Settings(home=server.home, **SETTINGS))
    try:
        events = platform.store.read_stream(f"sensordata-{seeded.sensor_id}")
        with platform.read_models.read_engine.connect() as conn:
            rows = conn.execute(
                sa.select(sa.func.count()).select_from(readings).where(readings.c.sensor_id == seeded.sensor_id)
            ).scalar_one()
    finally:
        platform.close()
    assert len(events) == len(present), "a POST was stored twice (or stored without being readable)"
    assert rows == len(present) * VALUES_PER_BLOCK, "a reading was projected twice"
