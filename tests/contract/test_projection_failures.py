"""Poison events never stall a projection; a failing rebuild leaves the old tables serving.

Runs on every read-model database (SQLite, PostgreSQL when configured). The poison events are
appended straight to a real SQLite event store, bypassing the commands that refuse them (as
events written by an older version, or by hand, would be): a null asset name, a null sensor
name, a self-parent, a parent cycle, an event that does not decode. Each must be recorded in
``projection_failures`` (projection, position, event id, error) and skipped, and every later
event of every account still applied.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from stores import prepared

from domain import registry as reg
from domain.events import DomainEvent, NewEvent
from infra.checkpoints import SqlCheckpointStore
from infra.eventstore.sqlite import SqliteEventStore
from infra.readmodels.database import ReadModelDb
from projections import registry_query as rq
from projections.base import ALL_PARTITIONS, apply_batch, create_tables, list_failures
from projections.registry import RegistryProjection
from projections.replay import rebuild


def checkpoints_of(engine):
    """The checkpoint store of a read-model database (its table created)."""
    checkpoints = SqlCheckpointStore(engine)
    checkpoints.create_tables()
    return checkpoints


def CHECKPOINTS(read_models):  # noqa: N802 - reads as the constant it stands for
    return checkpoints_of(read_models.write_engine)


def load_checkpoints(conn, name: str) -> dict[str, int]:
    return SqlCheckpointStore(conn.engine).load(name, within=conn)


@pytest.fixture
def store(tmp_path):
    store = prepared(SqliteEventStore(tmp_path / "events.db"))
    yield store
    store.close()


def append(store: SqliteEventStore, *events: DomainEvent | NewEvent) -> None:
    for event in events:
        new = event if isinstance(event, NewEvent) else NewEvent.of(event)
        store.append(f"test-{new.event_id}", [new])


def asset(asset_id: int, account_id: int = 1, parent: int | None = None) -> reg.AssetRegistered:
    return reg.AssetRegistered(
        asset_id=asset_id, account_id=account_id, name=f"asset {asset_id}", asset_type="battery", parent_asset_id=parent
    )


def change(asset_id: int, **changes) -> NewEvent:
    """An ``AssetChanged`` as stored, with changes the command would refuse."""
    return NewEvent(type="AssetChanged", data={"asset_id": asset_id, "changes": changes})


POISON = {
    "asset name null": [change(1, name=None)],
    "sensor name null": [NewEvent(type="SensorChanged", data={"sensor_id": 1, "changes": {"name": None}})],
    "self-parent": [change(1, parent_asset_id=1)],
    "parent cycle": [change(1, parent_asset_id=3)],  # 3 -> 2 -> 1 already
    "unknown column": [change(1, colour="red")],
    "does not decode": [NewEvent(type="AssetRegistered", data={"asset_id": 9})],
}


def project(db: ReadModelDb, store: SqliteEventStore, batch_size: int = 100_000) -> int:
    projection, position = RegistryProjection(), 0
    create_tables(db.write_engine, projection)
    while batch := store.read_all(position, batch_size):
        position = apply_batch(db.write_engine, projection, ALL_PARTITIONS, batch, checkpoints_of(db.write_engine))
    return position


def query(db: ReadModelDb, fn, *args):
    with db.read_engine.connect() as conn:
        return fn(conn, *args)


@pytest.mark.parametrize("batch_size", [1, 100], ids=["one-by-one", "in-one-batch"])
@pytest.mark.parametrize("poison", list(POISON), ids=list(POISON))
def test_a_poison_event_is_recorded_and_skipped(read_models: ReadModelDb, store, poison: str, batch_size: int):
    append(store, reg.AccountRegistered(account_id=1, name="A"), reg.AccountRegistered(account_id=2, name="B"))
    append(store, asset(1), asset(2, parent=1), asset(3, parent=2))
    append(store, reg.SensorRegistered(sensor_id=1, asset_id=1, name="power", unit="kW", event_resolution_s=900))
    append(store, *POISON[poison])
    bad_position = store.head_position()
    append(store, asset(4, account_id=2), change(1, name="renamed"))  # later events, another account too
    head = project(read_models, store, batch_size)

    assert head == store.head_position()
    with read_models.read_engine.connect() as conn:
        assert load_checkpoints(conn, "registry") == {ALL_PARTITIONS: head}
        failures = list_failures(conn, "registry")
    bad = store.read_all(bad_position - 1, 1)[0]
    assert [(f["position"], f["event_id"], f["event_type"]) for f in failures] == [
        (bad_position, str(bad.event_id), bad.type)
    ]
    assert failures[0]["error"]
    assert query(read_models, rq.asset_by_id, 4)["account_id"] == 2
    assert query(read_models, rq.asset_by_id, 1)["name"] == "renamed"
    assert query(read_models, rq.asset_by_id, 1)["parent_asset_id"] is None
    assert query(read_models, rq.sensor_by_id, 1)["name"] == "power"


class BrokenRegistry(RegistryProjection):
    """The registry projection with a bug (not a poison event): it fails on the N-th asset."""

    def __init__(self, fail_at_asset: int):
        self.fail_at_asset = fail_at_asset

    def apply(self, conn, events):
        for event in events:
            if event.type == "AssetRegistered" and event.data["asset_id"] == self.fail_at_asset:
                raise RuntimeError("the projection crashed mid-rebuild")
            super().apply(conn, [event])


def serving(db: ReadModelDb) -> tuple:
    with db.read_engine.connect() as conn:
        names = [a["name"] for a in rq.list_assets(conn)]
        users = [u["email"] for u in rq.list_users(conn)]
        return names, users, load_checkpoints(conn, "registry"), list_failures(conn, "registry")


def test_a_failing_rebuild_leaves_the_old_tables_serving(read_models: ReadModelDb, store):
    append(store, reg.AccountRegistered(account_id=1, name="A"))
    append(store, reg.UserRegistered(user_id=1, account_id=1, email="a@a.test", username="a"))
    append(store, *(asset(i) for i in range(1, 6)), change(2, name=None))
    project(read_models, store)
    before = serving(read_models)
    assert before[0] == ["asset 1", "asset 2", "asset 3", "asset 4", "asset 5"] and len(before[3]) == 1

    with pytest.raises(RuntimeError, match="crashed mid-rebuild"):
        broken = BrokenRegistry(fail_at_asset=4)
        rebuild(store, read_models.write_engine, broken, CHECKPOINTS(read_models), batch_size=2)
    assert serving(read_models) == before

    append(store, asset(6))
    applied = rebuild(store, read_models.write_engine, RegistryProjection(), CHECKPOINTS(read_models), batch_size=2)
    assert applied == store.head_position()
    names, users, checkpoints, failures = serving(read_models)
    assert (names, users) == (before[0] + ["asset 6"], before[1])
    assert checkpoints == {ALL_PARTITIONS: store.head_position()}
    assert [f["position"] for f in failures] == [f["position"] for f in before[3]], "poison recorded again"


def test_rebuild_leaves_no_scratch_tables(read_models: ReadModelDb, store, tmp_path):
    append(store, reg.AccountRegistered(account_id=1, name="A"), asset(1))
    project(read_models, store)
    rebuild(store, read_models.write_engine, RegistryProjection(), CHECKPOINTS(read_models))
    if read_models.is_postgres:
        with read_models.read_engine.connect() as conn:
            schemas = conn.execute(sa.text("SELECT nspname FROM pg_namespace WHERE nspname LIKE '%rebuild_%'")).all()
        assert schemas == []
    else:
        assert [p.name for p in tmp_path.rglob("*rebuild*")] == []


def test_after_a_rebuild_new_rows_get_fresh_serial_ids(read_models: ReadModelDb, store):
    """The readings projection's ``data_sources`` has a serial id: copied ids must not collide later."""
    from datetime import UTC, datetime

    from domain.beliefs import SensorDataRecorded
    from projections.readings import ReadingsProjection, data_sources

    def reading(source: str) -> SensorDataRecorded:
        start = datetime(2024, 5, 1, tzinfo=UTC)
        return SensorDataRecorded(sensor_id=1, start=start, resolution_s=900, values=[1.0], unit="kW", source=source,
                                  received_at=start)

    projection = ReadingsProjection()
    create_tables(read_models.write_engine, projection)
    append(store, reading("meter"), reading("forecaster"))
    rebuild(store, read_models.write_engine, projection, CHECKPOINTS(read_models))
    append(store, reading("third"))
    apply_batch(read_models.write_engine, projection, ALL_PARTITIONS, store.read_all(0), CHECKPOINTS(read_models))
    with read_models.read_engine.connect() as conn:
        rows = conn.execute(sa.select(data_sources.c.id, data_sources.c.name).order_by(data_sources.c.id)).all()
    assert [name for _, name in rows] == ["meter", "forecaster", "third"]
    assert len({source_id for source_id, _ in rows}) == 3
