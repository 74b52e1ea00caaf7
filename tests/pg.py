"""Throwaway PostgreSQL databases for tests.

API (deliberately tiny):

* :data:`POSTGRES_URL_VARIABLE` / :func:`postgres_base_url` — the server to use, from the
  environment variable ``FLEXLEDGER_TEST_POSTGRES_URL`` (e.g.
  ``postgresql://postgres@127.0.0.1:5432/test``); ``None`` when unset.
* :func:`temporary_postgres_url` — a context manager: creates a fresh, empty database
  ``flexledger_test_<random hex>`` on that server, yields its URL (same scheme, user and host
  as the base URL), and drops it afterwards (``WITH (FORCE)``: connections still open are
  terminated, so a test that forgot to dispose an engine does not leak the database).

Every test run (and every parallel engineer's run) gets its own database, so runs never
collide. Under pytest, ``tests/`` is on ``sys.path`` (``tests/conftest.py`` with the default
``prepend`` import mode), so import it as ``from pg import temporary_postgres_url``.

Typical fixture (``tests/contract/conftest.py`` provides exactly this as ``postgres_url``)::

    @pytest.fixture
    def postgres_url():
        if postgres_base_url() is None:
            pytest.skip(SKIP_REASON)
        with temporary_postgres_url() as url:
            yield url
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2
from psycopg2 import sql
from sqlalchemy.engine import make_url

POSTGRES_URL_VARIABLE = "FLEXLEDGER_TEST_POSTGRES_URL"
SKIP_REASON = f"{POSTGRES_URL_VARIABLE} not set"


def postgres_base_url() -> str | None:
    """The test server's URL from ``FLEXLEDGER_TEST_POSTGRES_URL``, or ``None`` when unset."""
    return os.environ.get(POSTGRES_URL_VARIABLE) or None


def _admin_connection(base_url: str):
    """An autocommit psycopg2 connection to the base URL's database (CREATE/DROP DATABASE)."""
    url = make_url(base_url)
    conn = psycopg2.connect(
        dbname=url.database or "postgres",
        user=url.username,
        password=url.password,
        host=url.host,
        port=url.port,
        **url.query,
    )
    conn.autocommit = True
    return conn


@contextmanager
def temporary_postgres_url(base_url: str | None = None) -> Iterator[str]:
    """Create a fresh database, yield its URL, drop it afterwards.

    ``base_url`` defaults to ``FLEXLEDGER_TEST_POSTGRES_URL``; raises ``RuntimeError`` when
    neither is given (fixtures should skip with :data:`SKIP_REASON` before calling this).
    """
    base_url = base_url or postgres_base_url()
    if base_url is None:
        raise RuntimeError(SKIP_REASON)
    name = f"flexledger_test_{uuid.uuid4().hex[:16]}"
    admin = _admin_connection(base_url)
    try:
        with admin.cursor() as cursor:
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield make_url(base_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.cursor() as cursor:
                cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    finally:
        admin.close()


__all__ = ["POSTGRES_URL_VARIABLE", "SKIP_REASON", "postgres_base_url", "temporary_postgres_url"]
