"""Tamper evidence: the hash chain of the SQL event stores, and what ``audit verify`` reports.

Each tampering (edit a value, delete a row, swap two rows, drop a hash) is done with raw SQL
on a real store (SQLite; PostgreSQL when ``FLEXLEDGER_TEST_POSTGRES_URL`` is set) and must be
found at the right position; an untouched store verifies. Also: a store written before the
chain existed gets its hashes on open; the CLI and the HTTP endpoint report the same.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pg import SKIP_REASON, postgres_base_url, temporary_postgres_url
from stores import prepared
from test_api_support import ALICE, PASSWORD, ApiHarness

from commands import registry as cmd
from domain.audit_chain import GENESIS, verify_chain
from domain.audit_checkpoints import make_checkpoint, verify_checkpoint
from domain.events import EventMetadata, NewEvent
from infra.eventstore.hash_chain import ensure_hash_chain
from infra.eventstore.postgres import PostgresEventStore
from infra.eventstore.sql import events_table
from infra.eventstore.sqlite import SqliteEventStore
from streams.audit_checkpoints import CheckpointWriter

N_EVENTS = 12


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_factory(request, tmp_path: Path) -> Iterator:
    if request.param == "sqlite":
        yield lambda: prepared(SqliteEventStore(tmp_path / "events.db"))
        return
    if postgres_base_url() is None:
        pytest.skip(SKIP_REASON)
    with temporary_postgres_url() as url:
        yield lambda: prepared(PostgresEventStore(url))


@pytest.fixture
def store(store_factory):
    store = store_factory()
    for i in range(N_EVENTS):
        event = NewEvent(type="Measured", data={"value": i * 1.5, "n": i}, metadata=EventMetadata(actor="test"))
        store.append(f"thing-{i % 3}", [event])
    try:
        yield store
    finally:
        store.close()


def execute(store, statement, **params) -> None:
    with store.engine.begin() as conn:
        conn.execute(statement, params)


def test_an_untouched_store_verifies(store) -> None:
    report = verify_chain(store)
    assert report.ok and report.complete and report.checked == N_EVENTS and report.broken is None
    assert report.head_hash == store.read_all(N_EVENTS - 1, 1)[0].hash != GENESIS


def test_an_edited_value_is_found_at_its_position(store) -> None:
    c = events_table.c
    edited = orjson.dumps({"value": 999.0, "n": 5})
    execute(store, events_table.update().where(c.global_position == 6).values(data=edited))
    report = verify_chain(store)
    assert not report.ok and report.broken["position"] == 6 and report.broken["reason"] == "hash mismatch"
    assert report.checked == 5


def test_a_deleted_row_is_found_at_the_next_position(store) -> None:
    execute(store, events_table.delete().where(events_table.c.global_position == 4))
    report = verify_chain(store)
    assert (report.ok, report.broken["position"], report.checked) == (False, 5, 3)


def test_two_swapped_rows_are_found_at_the_first(store) -> None:
    c = events_table.c
    for old, new in ((7, -7), (8, 7), (-7, 8)):
        execute(store, events_table.update().where(c.global_position == old).values(global_position=new))
    report = verify_chain(store)
    assert (report.ok, report.broken["position"]) == (False, 7)


def test_a_store_from_before_the_chain_gets_its_hashes_on_open(store, store_factory) -> None:
    execute(store, events_table.update().values(hash=None))
    broken = verify_chain(store).broken
    assert (broken["position"], broken["reason"], broken["found"]) == (1, "missing hash", None)
    store.close()
    reopened = store_factory()
    try:
        assert verify_chain(reopened).ok
        reopened.append("thing-0", [NewEvent(type="Measured", data={"value": 1})])
        assert verify_chain(reopened).checked == N_EVENTS + 1
    finally:
        reopened.close()


def test_signed_checkpoints_reveal_a_shortened_or_rewritten_history(store) -> None:
    key = Ed25519PrivateKey.generate()
    checkpoint = make_checkpoint(store, key)
    assert checkpoint["position"] == N_EVENTS
    assert verify_checkpoint(store, checkpoint)[0]
    store.append("thing-9", [NewEvent(type="Measured", data={"value": 0})])
    assert verify_checkpoint(store, checkpoint) == (True, f"history up to position {N_EVENTS} is unchanged")
    forged = {**checkpoint, "head_hash": "f" * 64}
    assert verify_checkpoint(store, forged) == (False, "invalid checkpoint signature")

    c = events_table.c  # an attacker edits a value and recomputes every hash after it
    execute(store, events_table.update().where(c.global_position == 3).values(data=orjson.dumps({"value": -1})))
    execute(store, events_table.update().where(c.global_position >= 3).values(hash=None))
    ensure_hash_chain(store.engine, events_table)
    assert verify_chain(store).ok  # the chain alone no longer shows it
    ok, reason = verify_checkpoint(store, checkpoint)
    assert not ok and "differs" in reason

    execute(store, events_table.delete().where(c.global_position >= N_EVENTS))  # drop the newest events
    ok, reason = verify_checkpoint(store, checkpoint)
    assert not ok and "shortened" in reason


def test_periodic_checkpoints_are_written_when_the_head_moved(store, tmp_path: Path) -> None:
    writer = CheckpointWriter(store, Ed25519PrivateKey.generate(), tmp_path / "checkpoints.jsonl", 3600)
    first = writer.write_once()
    assert first["position"] == N_EVENTS and writer.write_once() is None  # nothing new: nothing written
    store.append("thing-9", [NewEvent(type="Measured", data={"value": 0})])
    second = writer.write_once()
    lines = [json.loads(line) for line in (tmp_path / "checkpoints.jsonl").read_text().splitlines()]
    assert lines == [first, second] and second["position"] == N_EVENTS + 1
    assert all(verify_checkpoint(store, checkpoint)[0] for checkpoint in lines)


def test_cli_and_http_report_the_broken_link(tmp_path: Path) -> None:
    with ApiHarness(tmp_path) as api:
        denied = api.client.get("/api/audit/verify", headers=api.auth(ALICE))
        assert denied.status_code == 403  # whole-history verification: admins and auditors
        account = api.world.accounts["Gamma"]
        cmd.register_user(
            api.platform.commands,
            cmd.RegisterUser(email="aud@gamma.test", password=PASSWORD, account_id=account, roles=["auditor"]),
        )
        api.platform.wait_for(api.head())
        ok = api.client.get("/api/audit/verify", headers=api.auth("aud@gamma.test")).json()
        assert (ok["ok"], ok["checked"], ok["head_position"], ok["broken"]) == (True, api.head(), api.head(), None)
        position = api.head() - 2
        platform = api.platform
        checkpoint = api.client.get("/api/audit/checkpoint", headers=api.auth("aud@gamma.test")).json()
        assert checkpoint["position"] == api.head() and checkpoint["algorithm"] == "Ed25519"
        check = api.client.post("/api/audit/checkpoint/verify", json=checkpoint, headers=api.auth("aud@gamma.test"))
        assert check.json()["ok"], check.text
        execute(platform.store, events_table.update().where(events_table.c.global_position == position).values(
            data=orjson.dumps({"tampered": True})))  # fmt: skip
        found = api.client.get("/api/audit/verify", headers=api.auth("aud@gamma.test")).json()
        assert (found["ok"], found["broken"]["position"], found["checked"]) == (False, position, position - 1)
        check = api.client.post("/api/audit/checkpoint/verify", json=checkpoint, headers=api.auth("aud@gamma.test"))
        assert not check.json()["ok"] and f"position {position}" in check.json()["reason"]
    flexledger = str(Path(sys.executable).parent / "flexledger")
    env = {**os.environ, "FLEXLEDGER_HOME": str(tmp_path), "FLEXLEDGER_BCRYPT_ROUNDS": "4"}
    done = subprocess.run([flexledger, "audit", "verify"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"BROKEN at position {position}" in done.stdout
