"""The device-commands read model on every read-model database (SQLite, PostgreSQL): lifecycle
rows, filters by device/status/time, continuation-token paging without gaps or duplicates, and
a replay of the same events that changes nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from functools import reduce

import pytest

from domain import device_commands as dc
from domain.events import EventMetadata, NewEvent, RecordedEvent
from infra.checkpoints import SqlCheckpointStore
from projections.base import apply_batch, create_tables
from projections.device_commands import CommandFilter, DeviceCommandsProjection, InvalidToken, list_commands

T0 = datetime(2026, 2, 1, 8, 0, tzinfo=UTC)
DEVICE = {"gateway": "simulated", "address": "x"}


def _recorded(events: list, stream: str, position: int) -> list[RecordedEvent]:
    out = []
    for revision, event in enumerate(events):
        new = NewEvent.of(event, EventMetadata(actor="user:1"))
        out.append(RecordedEvent(event_id=new.event_id, stream_id=stream, stream_revision=revision,
                                 global_position=position + revision, type=new.type, schema_version=1,
                                 data=new.data, metadata=new.metadata))
    return out


def _history(n: int) -> list[RecordedEvent]:
    """n commands on assets 1 and 2, one a minute; every third acknowledged, every fifth cancelled."""
    history, position = [], 1
    for i in range(n):
        at = T0 + timedelta(minutes=i)
        request = dc.DeviceCommandRequest(asset_id=1 + i % 2, action="set_power", parameters={"power_kw": i},
                                          execute_at=at + timedelta(hours=1) if i % 5 == 0 else None)
        events = dc.decide_request(request, uuid.uuid4(), 7, DEVICE, at)
        state = reduce(dc.evolve, events, None)
        if i % 5 == 0:
            events += dc.decide_cancel(state, "no", at)
        elif i % 3 == 0:
            dispatched = dc.decide_due(state, at, "simulated")
            events += dispatched + dc.decide_reply(reduce(dc.evolve, dispatched, state), True, {"ok": 1}, None, 1, at)
        history += _recorded(events, dc.command_stream(state.command_id), position)
        position += len(events)
    return history


def test_rows_filters_paging_and_replay(read_models):
    engine = read_models.write_engine
    projection = DeviceCommandsProjection()
    create_tables(engine, projection)
    history = _history(25)
    checkpoints = SqlCheckpointStore(engine)
    checkpoints.create_tables()
    apply_batch(engine, projection, "*", history, checkpoints)
    with read_models.read_engine.connect() as conn:
        everything, _ = list_commands(conn, CommandFilter(asset_id=1), 1000)
        assert len(everything) == 13
        statuses = {r["status"] for r in everything}
        assert statuses == {dc.CANCELLED, dc.ACKNOWLEDGED, dc.REQUESTED}
        acked = next(r for r in everything if r["status"] == dc.ACKNOWLEDGED)
        assert acked["attempts"] == 1 and acked["response"] == {"ok": 1}

        seen, token = [], None
        while True:
            page, token = list_commands(conn, CommandFilter(asset_id=1), 4, token)
            seen += [r["id"] for r in page]
            if token is None:
                break
        assert seen == [r["id"] for r in everything]

        cancelled, _ = list_commands(conn, CommandFilter(account_id=7, statuses=(dc.CANCELLED,)), 100)
        assert len(cancelled) == 5
        window = CommandFilter(asset_id=2, created_from=T0 + timedelta(minutes=10),
                               created_to=T0 + timedelta(minutes=20))
        assert len(list_commands(conn, window, 100)[0]) == 5
        with pytest.raises(InvalidToken):
            list_commands(conn, CommandFilter(), 10, "garbage!")

    with engine.begin() as conn:  # a replay of the same events (e.g. a rebuild) changes nothing
        projection.apply(conn, history)
    with read_models.read_engine.connect() as conn:
        assert list_commands(conn, CommandFilter(asset_id=1), 1000)[0] == everything
