"""The API's read connections do not run dry under load, and a dry pool is a 503, not a 500.

Under 16 ingest clients plus waiting schedule reads, the embedded read models' pool (5 + 10)
ran dry: a schedule read holds its connection while it waits for the outcome's projection, and
every other request then failed with a 500 after the pool's 30 s timeout. The pool now holds
more connections than the API has worker threads (anyio's limiter bounds how many routes hold one
at once), and a pool timeout anywhere answers 503 ``READ_MODELS_BUSY`` with ``Retry-After``.
"""

from __future__ import annotations

from pathlib import Path

import anyio.to_thread
import pytest
from sqlalchemy.exc import TimeoutError as PoolTimeout
from test_api_support import ALICE, ApiHarness

from infra.readmodels.database import API_READ_CONNECTIONS


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    with ApiHarness(Path(tmp_path_factory.mktemp("read-pool"))) as harness:
        yield harness


def _worker_threads() -> int:
    async def tokens() -> int:
        return int(anyio.to_thread.current_default_thread_limiter().total_tokens)

    return anyio.run(tokens)


def test_the_read_pool_holds_more_connections_than_the_api_has_worker_threads(api: ApiHarness) -> None:
    pool = api.platform.read_models.read_engine.pool
    assert pool.size() + pool._max_overflow == API_READ_CONNECTIONS  # noqa: SLF001 (SQLAlchemy's QueuePool)
    assert _worker_threads() < API_READ_CONNECTIONS


def test_a_request_is_served_while_as_many_connections_as_worker_threads_are_held(api: ApiHarness) -> None:
    """What every worker thread waiting in a route could hold, held at once: one more request is
    still served (with the old pool of 15 it waited 30 s, then failed)."""
    engine = api.platform.read_models.read_engine
    held = [engine.connect() for _ in range(_worker_threads())]
    try:
        response = api.client.get(f"/api/v3_0/sensors/{api.sensor('CS 2/power')}", headers=api.auth(ALICE))
        assert response.status_code == 200, response.text
    finally:
        for conn in held:
            conn.close()


def test_a_dry_pool_is_a_503_with_a_stable_code(api: ApiHarness) -> None:
    def dry() -> None:
        raise PoolTimeout("QueuePool limit of size 5 overflow 10 reached, connection timed out")

    api.app.add_api_route("/test-only/dry-pool", dry)
    response = api.client.get("/test-only/dry-pool")
    assert response.status_code == 503
    assert response.json()["status"] == "READ_MODELS_BUSY"
    assert response.headers["Retry-After"]
