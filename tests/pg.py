"""Throwaway PostgreSQL storage for tests, isolated per test and per test run.

API (deliberately tiny):

* :func:`temporary_postgres_url` — a context manager yielding the URL of a fresh, empty
  PostgreSQL "database" for one test, removed afterwards. Use it like any database URL
  (SQLAlchemy, ``postgres_engine``, psycopg2/libpq).
* :func:`postgres_base_url` — the server to use, from ``FLEXLEDGER_TEST_POSTGRES_URL``
  (e.g. ``postgresql://postgres@127.0.0.1:5432/test``); ``None`` when unset.
* :data:`SKIP_REASON` — ``"FLEXLEDGER_TEST_POSTGRES_URL not set"``, for ``pytest.skip``.

How: each test run (process) creates one database ``flexledger_test_<random hex>`` on first
use and drops it at exit; each :func:`temporary_postgres_url` gets its own schema in it. The
yielded URL carries ``options=-csearch_path=<schema>`` (unqualified tables live in the
schema) and ``application_name=<schema>``; on exit the schema's connections that are still
open are terminated and the schema is dropped. CREATE DATABASE costs about a second, a schema
a millisecond. Parallel runs never collide (different databases). Caveat: NOTIFY channels and
advisory locks are per database, so they are shared between the tests of one run (a spurious
wake-up at worst).

Under pytest, ``tests/`` is on ``sys.path`` (``tests/conftest.py``, default ``prepend`` import
mode): ``from pg import temporary_postgres_url``. ``tests/contract/conftest.py`` has the
fixture ``postgres_url``::

    @pytest.fixture
    def postgres_url():
        if postgres_base_url() is None:
            pytest.skip(SKIP_REASON)
        with temporary_postgres_url() as url:
            yield url
"""

from __future__ import annotations

import atexit
import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager

import psycopg2
from psycopg2 import sql
from sqlalchemy.engine import make_url

POSTGRES_URL_VARIABLE = "FLEXLEDGER_TEST_POSTGRES_URL"
SKIP_REASON = f"{POSTGRES_URL_VARIABLE} not set"

_run_databases: dict[str, str] = {}
_lock = threading.Lock()


def postgres_base_url() -> str | None:
    """The test server's URL from ``FLEXLEDGER_TEST_POSTGRES_URL``, or ``None`` when unset."""
    return os.environ.get(POSTGRES_URL_VARIABLE) or None


def _connect(base_url: str, database: str | None = None):
    """An autocommit psycopg2 connection (CREATE/DROP DATABASE and SCHEMA)."""
    url = make_url(base_url)
    conn = psycopg2.connect(
        dbname=database or url.database or "postgres",
        user=url.username,
        password=url.password,
        host=url.host,
        port=url.port,
        **url.query,
    )
    conn.autocommit = True
    return conn


def _drop_database(base_url: str, name: str) -> None:
    with closing(_connect(base_url)) as conn, conn.cursor() as cursor:
        cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _run_database(base_url: str) -> str:
    """This process's database on the server of ``base_url`` (created once, dropped at exit)."""
    with _lock:
        if base_url not in _run_databases:
            name = f"flexledger_test_{uuid.uuid4().hex[:16]}"
            with closing(_connect(base_url)) as conn, conn.cursor() as cursor:
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            _run_databases[base_url] = name
            atexit.register(_drop_database, base_url, name)
        return _run_databases[base_url]


def _drop_schema(base_url: str, database: str, schema: str) -> None:
    with closing(_connect(base_url, database)) as conn, conn.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = %s AND pid <> pg_backend_pid()",
            (schema,),
        )
        cursor.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@contextmanager
def temporary_postgres_url(base_url: str | None = None) -> Iterator[str]:
    """Yield the URL of fresh, empty PostgreSQL storage; remove it afterwards.

    ``base_url`` defaults to ``FLEXLEDGER_TEST_POSTGRES_URL``; raises ``RuntimeError`` when
    neither is given (fixtures should ``pytest.skip(SKIP_REASON)`` before calling this).
    """
    base_url = base_url or postgres_base_url()
    if base_url is None:
        raise RuntimeError(SKIP_REASON)
    database = _run_database(base_url)
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with closing(_connect(base_url, database)) as conn, conn.cursor() as cursor:
        cursor.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    url = make_url(base_url).set(database=database)
    url = url.update_query_dict({"options": f"-csearch_path={schema}", "application_name": schema})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        _drop_schema(base_url, database, schema)


__all__ = ["POSTGRES_URL_VARIABLE", "SKIP_REASON", "postgres_base_url", "temporary_postgres_url"]
