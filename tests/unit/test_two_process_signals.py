"""The signals of the two-process embedded deployment (issue #18), without starting a process.

Two stores on one SQLite file stand for the two processes (separate connections, so SQLite's
``data_version`` changes for one when the other commits). The fall-back read is pushed out to
an hour, so only a doorbell's ring can wake a waiter within the test's deadline.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import infra.eventstore.sqlite as sqlite_store
from domain.events import NewEvent
from infra.eventstore.sqlite import SqliteEventStore
from streams.doorbell import Doorbell
from streams.progress_board import BoardMirror, ProgressBoard

DEADLINE_S = 30.0  # generous (a loaded machine); far below the hour-long fall-back


@pytest.fixture
def two_stores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(sqlite_store, "WATCH_FALLBACK_S", 3600.0)
    path = tmp_path / "events.db"
    api, processors = SqliteEventStore(path), SqliteEventStore(path)
    api.create_tables()
    to_api, to_processors = Doorbell.pipe(), Doorbell.pipe()
    api.watch_other_processes(Doorbell(read_fd=to_api[0]), Doorbell(write_fd=to_processors[1]))
    processors.watch_other_processes(Doorbell(read_fd=to_processors[0]), Doorbell(write_fd=to_api[1]))
    yield api, processors
    api.close()
    processors.close()


def test_each_store_hears_of_the_others_appends(two_stores) -> None:
    api, processors = two_stores
    assert processors.head_position() == 0
    processors.wait_for_append(0, 0.0)  # knows its head (0) before the other appends
    api.append("s-1", [NewEvent(type="Tested", data={"n": 1})])
    assert processors.wait_for_append(0, DEADLINE_S)
    processors.append("s-2", [NewEvent(type="Tested", data={"n": 2})])
    assert api.wait_for_append(1, DEADLINE_S)


def test_a_waiter_is_woken_by_the_ring_not_by_a_poll(two_stores) -> None:
    api, processors = two_stores
    processors.wait_for_append(0, 0.0)
    woken = []
    waiter = threading.Thread(target=lambda: woken.append(processors.wait_for_append(0, DEADLINE_S)))
    waiter.start()
    api.append("s-1", [NewEvent(type="Tested", data={"n": 1})])
    waiter.join(DEADLINE_S + 5)
    assert woken == [True]


def test_the_mirror_follows_the_board_and_wakes_waiters(tmp_path: Path) -> None:
    names = ["projection.readings", "projection.registry"]
    read_fd, write_fd = Doorbell.pipe()
    board = ProgressBoard.create(tmp_path / "progress", names)
    writer = ProgressBoard(tmp_path / "progress", names)  # the processors' side, its own mapping
    mirror = BoardMirror(board, Doorbell(read_fd=read_fd), fallback_s=3600.0)
    mirror.start()
    try:
        assert not mirror.wait_for(5, ["projection.readings"], timeout_s=0.05)
        writer.post("projection.readings", 7)
        Doorbell(write_fd=write_fd).ring()
        assert mirror.wait_for(7, ["projection.readings"], timeout_s=DEADLINE_S)
        assert mirror.loops["projection.registry"].position == 0
        assert board.read() == {"projection.readings": 7, "projection.registry": 0}
    finally:
        mirror.stop()
        writer.close()
        board.close()
