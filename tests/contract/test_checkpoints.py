"""Contract of the checkpoint-store port (:mod:`domain.ports.checkpoints`), on every read-model
database the SQL adapter (:mod:`infra.checkpoints`) runs on (``read_models`` fixture)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from domain.ports.checkpoints import ALL_PARTITIONS, done_position, resume_position
from infra.checkpoints import SqlCheckpointStore
from infra.readmodels.database import ReadModelDb
from streams.relay_checkpoint import RelayCheckpoint


@pytest.fixture
def store(read_models: ReadModelDb) -> SqlCheckpointStore:
    store = SqlCheckpointStore(read_models.write_engine)
    store.create_tables()
    store.create_tables()  # idempotent
    return store


def test_save_load_forget_per_processor_and_partition(store):
    assert store.load("projection.a") == {}
    store.save("projection.a", "topic:0", 3)
    store.save("projection.a", "topic:0", 7)  # an upsert
    store.save("projection.a", ALL_PARTITIONS, 5)
    store.save("scheduler", ALL_PARTITIONS, 9)
    assert store.load("projection.a") == {"topic:0": 7, ALL_PARTITIONS: 5}
    store.forget("projection.a")
    assert store.load("projection.a") == {} and store.load("scheduler") == {ALL_PARTITIONS: 9}


def test_within_a_transaction_the_checkpoint_commits_or_rolls_back_with_it(store):
    engine = store.engine
    with engine.begin() as conn:
        store.save("projection.a", ALL_PARTITIONS, 4, within=conn)
        assert store.load("projection.a", within=conn) == {ALL_PARTITIONS: 4}
    with pytest.raises(RuntimeError), engine.begin() as conn:
        store.save("projection.a", ALL_PARTITIONS, 8, within=conn)
        raise RuntimeError("the rows failed")
    assert store.load("projection.a") == {ALL_PARTITIONS: 4}


def test_where_processors_resume():
    assert resume_position({}) == 0
    assert resume_position({"t:0": 7, "t:1": 4}) == 4  # per-partition checkpoints: the lowest
    assert resume_position({"t:0": 7, ALL_PARTITIONS: 9}) == 9  # following the store in global order
    assert done_position({"t:0": 7, ALL_PARTITIONS: 5}, "t:0") == 7
    assert done_position({"t:0": 7, ALL_PARTITIONS: 5}, "t:1") == 5


def test_the_relay_checkpoint_never_moves_back_and_adopts_the_former_table(read_models: ReadModelDb):
    engine = read_models.write_engine
    with engine.begin() as conn:  # as a database written by the former relay_checkpoint module
        conn.execute(sa.text("CREATE TABLE relay_checkpoints (relay VARCHAR(64) PRIMARY KEY, position BIGINT)"))
        conn.execute(sa.text("INSERT INTO relay_checkpoints VALUES ('kafka', 42)"))
    store = SqlCheckpointStore(engine)
    store.create_tables()
    relay = RelayCheckpoint(store)
    assert relay.load() == 42
    relay.save(40)
    assert relay.load() == 42
    relay.save(50)
    store.create_tables()  # adopting again does not overwrite
    assert relay.load() == 50
