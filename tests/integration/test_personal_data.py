"""Crypto-shredding: personal fields are stored sealed; forgetting a user destroys its key.

Over real HTTP semantics (the seeded API harness: SQLite event store and read models; and the
same on PostgreSQL when ``FLEXLEDGER_TEST_POSTGRES_URL`` is set): an admin forgets carol; the
stored events never held her e-mail in the clear; ``audit verify`` (endpoint and per stream)
still passes; the history shows ``[erased]``; she can no longer log in (nor use an old token);
alice is unaffected; the registry projection rebuilds to the same tables; her e-mail address
may be registered again. The CLI test forgets a user with ``flexledger users forget`` and
verifies with ``flexledger audit verify`` as real subprocesses.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa
from personal_data_support import ADMIN, BACKENDS, sealed_harness
from test_api_support import ALICE, BOB, CAROL, PASSWORD, ApiHarness, seed_world

from commands import registry as cmd
from domain.audit_chain import verify_chain, verify_stream
from domain.personal_data import ERASED
from infra.bootstrap import build_platform
from infra.eventstore.sql import events_table
from infra.settings import Settings
from projections.registry import RegistryProjection, users
from projections.replay import rebuild


@pytest.fixture(params=BACKENDS)
def api(request, tmp_path: Path) -> Iterator[ApiHarness]:
    yield from sealed_harness(request.param, tmp_path)


def _users_table(api: ApiHarness) -> list:
    with api.platform.read_models.read_engine.connect() as conn:
        return sorted(map(tuple, conn.execute(sa.select(users)).all()))


def test_personal_fields_are_stored_sealed(api: ApiHarness) -> None:
    carol = api.world.users[CAROL]
    stored = api.platform.store.sealed.read_stream(f"user-{carol}")[0]
    assert stored.data["email"].startswith("pii:v1:") and stored.data["username"].startswith("pii:v1:")
    assert CAROL not in stored.model_dump_json()
    opened = api.platform.store.read_stream(f"user-{carol}")[0]
    assert (opened.data["email"], opened.data["username"]) == (CAROL, "carol")
    assert not [e for e in api.platform.store.sealed.read_all(0, 10_000) if CAROL in e.stream_id]


def test_a_forgotten_user_is_erased_while_history_verifies_and_replays(api: ApiHarness) -> None:
    carol, alice = api.world.users[CAROL], api.world.users[ALICE]
    carol_token = api.token(CAROL)
    carol_key = api.client.post("/api/v3_0/streams/keys", headers=api.auth(CAROL)).json()["stream_key"]
    assert api.client.get("/api/audit/events", headers={"Authorization": carol_key}).status_code == 200
    issued = api.client.post(f"/api/v3_0/users/{carol}/api-keys", json={"name": "cron"}, headers=api.auth(CAROL))
    assert issued.status_code == 201, issued.text
    carol_api_key = issued.json()["key"]
    assert api.client.post(f"/api/v3_0/users/{carol}/forget", headers=api.auth(ALICE)).status_code == 403
    before = _users_table(api)
    done = api.client.post(f"/api/v3_0/users/{carol}/forget", headers=api.auth(ADMIN))
    assert (done.status_code, done.json()) == (200, {"user_id": carol, "forgotten": True})
    again = api.client.post(f"/api/v3_0/users/{carol}/forget", headers=api.auth(ADMIN))
    assert (again.status_code, again.json()["status"]) == (404, "UNRECOGNIZED_USER")

    verified = api.client.get("/api/audit/verify", headers=api.auth(ADMIN)).json()
    assert verified["ok"] and verified["complete"] and verified["broken"] is None
    one = api.client.get("/api/audit/verify", params={"stream": f"user-{carol}"}, headers=api.auth(ADMIN)).json()
    assert (one["ok"], one["checked"], one["stream"]) == (True, 2, f"user-{carol}")

    history = api.client.get(f"/api/audit/streams/user-{carol}/events", headers=api.auth(ADMIN)).json()["events"]
    assert [e["type"] for e in history] == ["UserRegistered", "UserForgotten"]
    assert (history[0]["data"]["email"], history[0]["data"]["username"]) == (ERASED, ERASED)
    assert CAROL not in str(api.client.get("/api/audit/events", params={"limit": 1000}, headers=api.auth(ADMIN)).json())
    alice_history = api.client.get(f"/api/audit/streams/user-{alice}/events", headers=api.auth(ADMIN)).json()
    assert alice_history["events"][0]["data"]["email"] == ALICE

    login = api.client.post("/api/requestAuthToken", json={"email": CAROL, "password": PASSWORD})
    assert login.status_code == 401, login.text
    assert api.client.get("/api/v3_0/assets", headers={"Authorization": carol_token}).status_code == 401
    assert api.client.get("/api/audit/events", headers={"Authorization": carol_key}).status_code == 401
    assert api.client.get("/api/v3_0/assets", headers={"Authorization": carol_api_key}).status_code == 401
    assert api.client.get("/api/v3_0/assets", headers=api.auth(ALICE)).status_code == 200
    assert api.client.get("/api/v3_0/assets", headers=api.auth(BOB)).status_code == 200

    after = _users_table(api)
    assert after == [row for row in before if row[0] != carol] and len(after) == len(before) - 1
    platform = api.platform
    rebuild(platform.store, platform.read_models.write_engine, RegistryProjection(), platform.checkpoints)
    assert _users_table(api) == after  # the replay reads [erased] and drops her, as the live projection did

    again = cmd.register_user(
        platform.commands, cmd.RegisterUser(email=CAROL, password=PASSWORD, account_id=api.world.accounts["Alpha"])
    )
    assert again != carol and platform.wait_for(api.head())
    assert api.client.post("/api/requestAuthToken", json={"email": CAROL, "password": PASSWORD}).status_code == 200
    assert verify_chain(platform.store).ok and verify_stream(platform.store, f"user-{again}").ok


def test_an_edited_sealed_field_is_found_by_the_stream_verification(api: ApiHarness) -> None:
    """Per-stream verification finds an edited event of the stream, and says where."""
    bob = api.world.users[BOB]
    stored = api.platform.store.sealed.read_stream(f"user-{bob}")[0]
    edited = {**stored.data, "roles": ["admin"]}
    c = events_table.c
    with api.platform.store.sealed.engine.begin() as conn:
        conn.execute(events_table.update().where(c.global_position == stored.global_position).values(
            data=orjson.dumps(edited)))  # fmt: skip
    report = verify_stream(api.platform.store, f"user-{bob}")
    assert not report.ok and report.broken["position"] == stored.global_position
    assert verify_stream(api.platform.store, f"user-{api.world.users[ALICE]}").ok
    answer = api.client.get("/api/audit/verify", params={"stream": f"user-{bob}"}, headers=api.auth(ADMIN)).json()
    assert (answer["ok"], answer["broken"]["position"]) == (False, stored.global_position)
    unknown = api.client.get("/api/audit/verify", params={"stream": "user-999999"}, headers=api.auth(ADMIN))
    assert (unknown.status_code, unknown.json()["status"]) == (404, "UNKNOWN_STREAM")


FLEXLEDGER = str(Path(sys.executable).parent / "flexledger")


def test_forget_with_the_cli_then_verify(tmp_path: Path) -> None:
    platform = build_platform(Settings(home=tmp_path, bcrypt_rounds=4))
    try:
        world = seed_world(platform.commands)
    finally:
        platform.close()
    env = {**os.environ, "FLEXLEDGER_HOME": str(tmp_path), "FLEXLEDGER_BCRYPT_ROUNDS": "4"}

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([FLEXLEDGER, *args], env=env, capture_output=True, text=True, timeout=180)

    done = cli("users", "forget", "--email", BOB, "--yes")
    assert done.returncode == 0 and "forgotten" in done.stdout, done.stdout + done.stderr
    again = cli("users", "forget", "--email", BOB, "--yes")
    assert again.returncode != 0
    verified = cli("audit", "verify")
    assert verified.returncode == 0 and verified.stdout.startswith("OK"), verified.stdout + verified.stderr
    one = cli("audit", "verify", "--stream", f"user-{world.users[BOB]}")
    assert one.returncode == 0 and "stream user-" in one.stdout, one.stdout + one.stderr
    platform = build_platform(Settings(home=tmp_path, bcrypt_rounds=4))
    try:
        data = platform.store.read_stream(f"user-{world.users[BOB]}")[0].data
        assert data["email"] == ERASED
        assert platform.store.read_stream(f"user-{world.users[ALICE]}")[0].data["email"] == ALICE
    finally:
        platform.close()
