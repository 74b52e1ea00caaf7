"""Adapter factories for the contract suites: every adapter of a port runs the same tests.

To add an adapter, add ONE ``pytest.param`` line to the list of its port:

* :data:`EVENT_STORE_ADAPTERS` — ``tests/contract/test_event_store.py``: memory and SQLite always,
  PostgreSQL when ``FLEXLEDGER_TEST_POSTGRES_URL`` is set, KurrentDB
  (``infra/eventstore/kurrentdb.py``, ``KurrentDbEventStore(url)``) when
  ``FLEXLEDGER_TEST_KURRENTDB_URL`` is set (each skips with that reason otherwise).
* :data:`LOG_ADAPTERS` — ``tests/contract/test_log.py``: memory and Kafka (the mock cluster);
  a factory is a context manager yielding a ``Log`` whose topics have at least 2 partitions.
* :data:`READ_MODEL_ADAPTERS` — ``tests/contract/test_readmodels.py``.
* ``open_store`` — the SQL event stores on one fresh storage, opened as often as a test needs
  (``test_group_commit.py``, ``test_read_appended.py``).

An event-store adapter is a :class:`StoreAdapter`: ``storage(tmp_path)`` is a context manager
yielding a location (file path or URL) that lives for one test, ``open(location)`` opens a
store on it (tests open several instances on one location to act as separate processes).
A shared server (KurrentDB) is fine: the suite uses unique stream ids per test and only
reads above the head it saw when the test began. ``consecutive_positions=False`` for stores
whose global positions are not 1..N.

PostgreSQL adapters get fresh, empty storage per test (:func:`pg.temporary_postgres_url`: a
schema of its own in a database of this run) and skip with "FLEXLEDGER_TEST_POSTGRES_URL not
set" when the variable is unset.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from pg import SKIP_REASON, postgres_base_url, temporary_postgres_url

from domain.ports.event_store import EventStore
from domain.ports.log import Log
from infra.eventstore.memory import MemoryEventStore, MemoryStorage
from infra.eventstore.postgres import PostgresEventStore
from infra.eventstore.sql import SqlEventStore
from infra.eventstore.sqlite import SqliteEventStore
from infra.log.memory import MemoryLog
from infra.readmodels.database import ReadModelDb, postgres_readmodels, sqlite_readmodels

KURRENTDB_URL_VARIABLE = "FLEXLEDGER_TEST_KURRENTDB_URL"


# -- PostgreSQL ---------------------------------------------------------------------------
@contextmanager
def postgres_database() -> Iterator[str]:
    """URL of a throwaway database; skips the test when no server is configured."""
    if postgres_base_url() is None:
        pytest.skip(SKIP_REASON)
    with temporary_postgres_url() as url:
        yield url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test (dropped afterwards)."""
    with postgres_database() as url:
        yield url


# -- event stores -------------------------------------------------------------------------
@dataclass(frozen=True)
class StoreAdapter:
    """How to get storage for one test and open event stores on it.

    ``consecutive_positions``: global positions are 1..N without gaps (the SQL stores); else
    they are only positive and strictly increasing (KurrentDB commit positions), and the
    suite does no arithmetic on them.
    """

    storage: Callable[[Path], AbstractContextManager[str]]
    open: Callable[[str], EventStore]
    consecutive_positions: bool = True


@contextmanager
def _sqlite_file(tmp_path: Path) -> Iterator[str]:
    yield str(tmp_path / "events.db")


@contextmanager
def _postgres_storage(_tmp_path: Path) -> Iterator[str]:
    with postgres_database() as url:
        yield url


@contextmanager
def _kurrentdb_server(_tmp_path: Path) -> Iterator[str]:
    url = os.environ.get(KURRENTDB_URL_VARIABLE)
    if not url:
        pytest.skip(f"{KURRENTDB_URL_VARIABLE} not set")
    yield url


def _open_kurrentdb(url: str) -> EventStore:
    from infra.eventstore.kurrentdb import KurrentDbEventStore

    return KurrentDbEventStore(url)


_MEMORY_STORAGES: dict[str, MemoryStorage] = {}


@contextmanager
def _memory_storage(_tmp_path: Path) -> Iterator[str]:
    key = str(uuid.uuid4())
    _MEMORY_STORAGES[key] = MemoryStorage()
    try:
        yield key
    finally:
        del _MEMORY_STORAGES[key]


def _open_memory(key: str) -> EventStore:
    return MemoryEventStore(_MEMORY_STORAGES[key])


MEMORY_STORE = StoreAdapter(_memory_storage, _open_memory)
def _prepared(store: EventStore) -> EventStore:
    """A SQL store after the storage step (tables are never created by a constructor)."""
    store.create_tables()  # type: ignore[attr-defined]
    return store


SQLITE_STORE = StoreAdapter(_sqlite_file, lambda path: _prepared(SqliteEventStore(path)))
POSTGRES_STORE = StoreAdapter(_postgres_storage, lambda url: _prepared(PostgresEventStore(url)))
KURRENTDB_STORE = StoreAdapter(_kurrentdb_server, _open_kurrentdb, consecutive_positions=False)

EVENT_STORE_ADAPTERS = [
    pytest.param(MEMORY_STORE, id="memory"),
    pytest.param(SQLITE_STORE, id="sqlite"),
    pytest.param(POSTGRES_STORE, id="postgres", marks=pytest.mark.postgres),
    pytest.param(KURRENTDB_STORE, id="kurrentdb", marks=pytest.mark.kurrentdb),
]


@pytest.fixture(params=EVENT_STORE_ADAPTERS)
def store_adapter(request) -> StoreAdapter:
    """The event-store adapter under test."""
    return request.param


@pytest.fixture
def open_event_store(store_adapter: StoreAdapter, tmp_path) -> Iterator[Callable[[], EventStore]]:
    """Opens event stores on this test's storage (each call: a new instance, as another
    process would); all are closed at teardown."""
    adapter = store_adapter
    opened: list[EventStore] = []
    with adapter.storage(tmp_path) as location:

        def open_store() -> EventStore:
            store = adapter.open(location)
            opened.append(store)
            return store

        try:
            yield open_store
        finally:
            for store in opened:
                store.close()


@pytest.fixture
def event_store(open_event_store) -> EventStore:
    """One event store instance of the adapter under test."""
    return open_event_store()


@pytest.fixture
def stream_prefix() -> str:
    """A prefix unique to this test, for stream ids (isolation on shared servers)."""
    return f"t{uuid.uuid4().hex[:10]}"


# -- logs -----------------------------------------------------------------------------------
@contextmanager
def memory_log() -> Iterator[Log]:
    log = MemoryLog(partitions=4)
    try:
        yield log
    finally:
        log.close()


@contextmanager
def kafka_log() -> Iterator[Log]:
    """A KafkaLog on librdkafka's mock cluster: a real Kafka-protocol broker inside this process,
    alive as long as the producer that started it (it auto-creates topics with 4 partitions)."""
    from confluent_kafka import Producer

    from infra.log.kafka import KafkaLog

    keeper = Producer({"test.mock.num.brokers": 1, "bootstrap.servers": "unused:1", "log_level": 3})
    servers = ",".join(f"{b.host}:{b.port}" for b in keeper.list_topics(timeout=5).brokers.values())
    log_ = KafkaLog(servers, partitions=4, session_timeout_s=6)
    try:
        yield log_
    finally:
        log_.close()
        del keeper


LOG_ADAPTERS = [
    pytest.param(memory_log, id="memory"),
    pytest.param(kafka_log, id="kafka", marks=pytest.mark.kafka),
]


@pytest.fixture(params=LOG_ADAPTERS)
def log(request) -> Iterator[Log]:
    """A log of the adapter under test (topics with at least 2 partitions)."""
    with request.param() as log_:
        yield log_


# -- read models ---------------------------------------------------------------------------
@contextmanager
def sqlite_read_models(tmp_path: Path) -> Iterator[ReadModelDb]:
    db = sqlite_readmodels(tmp_path / f"readmodels-{uuid.uuid4().hex[:8]}.db")
    try:
        yield db
    finally:
        db.close()


@contextmanager
def postgres_read_models(_tmp_path: Path) -> Iterator[ReadModelDb]:
    with postgres_database() as url:
        db = postgres_readmodels(url)
        try:
            yield db
        finally:
            db.close()


READ_MODEL_ADAPTERS = [
    pytest.param(sqlite_read_models, id="sqlite"),
    pytest.param(postgres_read_models, id="postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(params=READ_MODEL_ADAPTERS)
def read_models(request, tmp_path) -> Iterator[ReadModelDb]:
    """A fresh read-model database of the adapter under test."""
    with request.param(tmp_path) as db:
        yield db


@pytest.fixture
def read_models_pair(tmp_path) -> Iterator[dict[str, ReadModelDb]]:
    """A fresh SQLite and a fresh PostgreSQL read-model database, to compare their answers."""
    with sqlite_read_models(tmp_path) as sqlite_db, postgres_read_models(tmp_path) as postgres_db:
        yield {"sqlite": sqlite_db, "postgres": postgres_db}


@pytest.fixture(params=[pytest.param("sqlite"), pytest.param("postgres", marks=pytest.mark.postgres)])
def open_store(request, tmp_path) -> Iterator[Callable[[], SqlEventStore]]:
    """Opens SQL event stores on one fresh storage (each call: another instance, as another process)."""
    opened: list[SqlEventStore] = []

    def opener(location: str, cls: type[SqlEventStore]) -> Callable[[], SqlEventStore]:
        def open_one() -> SqlEventStore:
            opened.append(cls(location))
            opened[-1].create_tables()  # the storage step (constructors create no tables)
            return opened[-1]

        return open_one

    try:
        if request.param == "sqlite":
            yield opener(str(tmp_path / "events.db"), SqliteEventStore)
        else:
            if postgres_base_url() is None:
                pytest.skip(SKIP_REASON)
            with temporary_postgres_url() as url:
                yield opener(url, PostgresEventStore)
    finally:
        for store in opened:
            store.close()
