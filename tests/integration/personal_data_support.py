"""Harness shared by the crypto-shredding tests (``test_personal_data.py``, ``test_private_locations.py``).

:func:`sealed_harness` yields the seeded API harness (:mod:`test_api_support`) with an admin of
account Alpha (:data:`ADMIN`), on SQLite, or on PostgreSQL (event store and read models) when
``FLEXLEDGER_TEST_POSTGRES_URL`` is set (skipped with the reason otherwise); a module's fixture
parametrised with :data:`BACKENDS` yields from it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pg import SKIP_REASON, postgres_base_url, temporary_postgres_url
from test_api_support import PASSWORD, ApiHarness

from commands import registry as cmd

ADMIN = "root@alpha.test"


def _with_admin(api: ApiHarness) -> None:
    account = api.world.accounts["Alpha"]
    cmd.register_user(
        api.platform.commands, cmd.RegisterUser(email=ADMIN, password=PASSWORD, account_id=account, roles=["admin"])
    )
    assert api.platform.wait_for(api.head())


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def sealed_harness(backend: str, tmp_path: Path) -> Iterator[ApiHarness]:
    if backend == "sqlite":
        with ApiHarness(tmp_path) as harness:
            _with_admin(harness)
            yield harness
        return
    if postgres_base_url() is None:
        pytest.skip(SKIP_REASON)
    with (
        temporary_postgres_url() as url,
        ApiHarness(tmp_path, event_store="postgres", read_models="postgres", postgres_url=url) as harness,
    ):
        _with_admin(harness)
        yield harness
