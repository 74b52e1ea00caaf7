"""Users and keys over HTTP: GET/PATCH users (incl. ``active``), password reset and change,
long-lived API keys, and credentials kept out of the user events (issue #10, section 5).

The seeded world of :mod:`test_api_support` plus an admin (account Alpha) and an
account-admin of Beta, registered through the command handlers.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_api_support import ALICE, BOB, CAROL, PASSWORD, ApiHarness

from commands import registry as cmd
from domain import credentials as cr
from domain.events import NewEvent
from domain.ports.event_store import ANY

ADMIN, BETA_ADMIN = "admin@alpha.test", "boss@beta.test"


@pytest.fixture
def api(tmp_path: Path):
    with ApiHarness(tmp_path) as harness:
        ctx = harness.platform.commands
        for email, account, roles in ((ADMIN, "Alpha", ["admin"]), (BETA_ADMIN, "Beta", ["account-admin"])):
            harness.world.users[email] = cmd.register_user(
                ctx, cmd.RegisterUser(email=email, password=PASSWORD, account_id=harness.world.accounts[account],
                                      roles=roles)
            )
        assert harness.platform.wait_for(harness.platform.store.head_position())
        yield harness


def uid(api: ApiHarness, email: str) -> int:
    return api.world.users[email]


def sensor_status(api: ApiHarness, authorization: str) -> int:
    url = f"/api/v3_0/sensors/{api.sensor('CS 1/power')}"
    return api.client.get(url, headers={"Authorization": authorization}).status_code


def login(api: ApiHarness, email: str, password: str):
    return api.client.post("/api/requestAuthToken", json={"email": email, "password": password})


def test_get_user_is_flexmeasures_shaped_and_account_bound(api: ApiHarness) -> None:
    alice = uid(api, ALICE)
    response = api.client.get(f"/api/v3_0/users/{alice}", headers=api.auth(CAROL))
    assert response.status_code == 200
    assert set(response.json()) == {"id", "email", "username", "account_id", "active", "timezone",
                                    "flexmeasures_roles"}
    assert "password_hash" not in response.text
    assert api.client.get(f"/api/v3_0/users/{alice}", headers=api.auth(BOB)).status_code == 403
    missing = api.client.get("/api/v3_0/users/4242", headers=api.auth(ADMIN))
    assert (missing.status_code, missing.json()["status"]) == (404, "UNRECOGNIZED_USER")


def test_deactivating_a_user_ends_their_tokens_and_keys_at_once(api: ApiHarness) -> None:
    alice = uid(api, ALICE)
    token = api.token(ALICE)
    key = api.client.post(f"/api/v3_0/users/{alice}/api-keys", json={"name": "ci"}, headers=api.auth(ALICE))
    assert key.status_code == 201
    assert sensor_status(api, token) == 200 and sensor_status(api, key.json()["key"]) == 200  # both cached now
    patched = api.client.patch(f"/api/v3_0/users/{alice}", json={"active": False}, headers=api.auth(ADMIN))
    assert (patched.status_code, patched.json()["active"]) == (200, False)
    assert sensor_status(api, token) == 401
    assert sensor_status(api, key.json()["key"]) == 401
    assert login(api, ALICE, PASSWORD).status_code == 401
    listed = api.client.get("/api/v3_0/users", headers=api.auth(CAROL)).json()
    assert alice not in [u["id"] for u in listed]
    everyone = api.client.get("/api/v3_0/users", params={"include_inactive": True}, headers=api.auth(CAROL)).json()
    assert alice in [u["id"] for u in everyone]
    api.client.patch(f"/api/v3_0/users/{alice}", json={"active": True}, headers=api.auth(ADMIN))
    assert sensor_status(api, token) == 200 and sensor_status(api, key.json()["key"]) == 200


def test_who_may_patch_a_user(api: ApiHarness) -> None:
    alice, bob = uid(api, ALICE), uid(api, BOB)
    own = api.client.patch(f"/api/v3_0/users/{alice}", json={"timezone": "UTC"}, headers=api.auth(ALICE))
    assert (own.status_code, own.json()["timezone"]) == (200, "UTC")
    for body in ({"active": False}, {"flexmeasures_roles": ["admin"]}):
        refused = api.client.patch(f"/api/v3_0/users/{alice}", json=body, headers=api.auth(ALICE))
        assert refused.status_code == 403, body
    assert api.client.patch(f"/api/v3_0/users/{alice}", json={"timezone": "UTC"},
                            headers=api.auth(CAROL)).status_code == 403
    assert api.client.patch(f"/api/v3_0/users/{alice}", json={"active": False},
                            headers=api.auth(BETA_ADMIN)).status_code == 403
    by_account_admin = api.client.patch(f"/api/v3_0/users/{bob}", json={"flexmeasures_roles": ["MDC"]},
                                        headers=api.auth(BETA_ADMIN))
    assert (by_account_admin.status_code, by_account_admin.json()["flexmeasures_roles"]) == (200, ["MDC"])
    no_admin = api.client.patch(f"/api/v3_0/users/{bob}", json={"flexmeasures_roles": ["admin"]},
                                headers=api.auth(BETA_ADMIN))
    assert no_admin.status_code == 403
    admin = uid(api, ADMIN)
    assert api.client.patch(f"/api/v3_0/users/{admin}", json={"active": False},
                            headers=api.auth(ADMIN)).status_code == 403, "not even admins deactivate themselves"


@pytest.mark.parametrize(
    ("body", "field"),
    [({"username": None}, "body"), ({"username": "  "}, "username"), ({"flexmeasures_roles": ["king"]}, "roles"),
     ({"email": "x@y.z"}, "email"), ({}, "body")],
)
def test_invalid_user_patches_are_422_and_store_nothing(api: ApiHarness, body: dict, field: str) -> None:
    head = api.head()
    response = api.client.patch(f"/api/v3_0/users/{uid(api, ALICE)}", json=body, headers=api.auth(ADMIN))
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert api.head() == head


def test_admin_password_reset_ends_tokens_and_sets_the_password(api: ApiHarness) -> None:
    alice = uid(api, ALICE)
    token = api.token(ALICE)
    assert sensor_status(api, token) == 200
    assert api.client.patch(f"/api/v3_0/users/{alice}/password-reset", json={"password": "a new secret!"},
                            headers=api.auth(CAROL)).status_code == 403
    reset = api.client.patch(f"/api/v3_0/users/{alice}/password-reset", json={"password": "a new secret!"},
                             headers=api.auth(ADMIN))
    assert reset.status_code == 200, reset.text
    assert sensor_status(api, token) == 401
    assert login(api, ALICE, PASSWORD).status_code == 401
    fresh = login(api, ALICE, "a new secret!")
    assert fresh.status_code == 200 and sensor_status(api, fresh.json()["auth_token"]) == 200
    random_reset = api.client.patch(f"/api/v3_0/users/{alice}/password-reset", headers=api.auth(ADMIN))
    assert random_reset.status_code == 200
    assert login(api, ALICE, "a new secret!").status_code == 401


def test_a_user_changes_their_own_password(api: ApiHarness) -> None:
    alice = uid(api, ALICE)
    old_token = api.token(ALICE)
    url = f"/api/v3_0/users/{alice}/password"
    wrong = api.client.patch(url, json={"current_password": "nope", "new_password": "brand new pass"},
                             headers=api.auth(ALICE))
    assert (wrong.status_code, wrong.json()["field"]) == (422, "current_password")
    other = api.client.patch(url, json={"current_password": PASSWORD, "new_password": "brand new pass"},
                             headers=api.auth(CAROL))
    assert other.status_code == 403
    short = api.client.patch(url, json={"current_password": PASSWORD, "new_password": "short"},
                             headers=api.auth(ALICE))
    assert short.status_code == 422
    changed = api.client.patch(url, json={"current_password": PASSWORD, "new_password": "brand new pass"},
                               headers=api.auth(ALICE))
    assert changed.status_code == 200, changed.text
    assert sensor_status(api, changed.json()["auth_token"]) == 200
    assert sensor_status(api, old_token) == 401
    assert login(api, ALICE, "brand new pass").status_code == 200


def test_api_keys_are_shown_once_hashed_revocable_and_expire(api: ApiHarness) -> None:
    alice = uid(api, ALICE)
    url = f"/api/v3_0/users/{alice}/api-keys"
    issued = api.client.post(url, json={"name": "integration"}, headers=api.auth(ALICE))
    assert issued.status_code == 201
    key = issued.json()["key"]
    assert key.startswith(cr.API_KEY_PREFIX) and sensor_status(api, key) == 200
    assert sensor_status(api, f"Bearer {key}") == 200
    assert sensor_status(api, key[:-2] + "xx") == 401
    listed = api.client.get(url, headers=api.auth(ALICE)).json()
    assert [k["id"] for k in listed] == [issued.json()["id"]] and "key" not in listed[0]
    assert api.client.get(url, headers=api.auth(BOB)).status_code == 403
    past = api.client.post(url, json={"name": "old", "expires_at": "2020-01-01T00:00:00Z"}, headers=api.auth(ALICE))
    assert (past.status_code, past.json()["field"]) == (422, "expires_at")
    naive = api.client.post(url, json={"name": "x", "expires_at": "2099-01-01T00:00:00"}, headers=api.auth(ALICE))
    assert naive.status_code == 422

    revoked = api.client.delete(f"{url}/{issued.json()['id']}", headers=api.auth(ALICE))
    assert revoked.status_code == 204
    assert sensor_status(api, key) == 401
    again = api.client.delete(f"{url}/{issued.json()['id']}", headers=api.auth(ALICE))
    assert (again.status_code, again.json()["status"]) == (404, "UNRECOGNIZED_API_KEY")

    expired_secret = "s" * 43  # an expired key, as one issued long ago would be stored
    expired = cr.ApiKeyIssued(user_id=alice, key_id="0123456789abcdef", name="old",
                              key_hash=cr.hash_key_secret(expired_secret),
                              expires_at=datetime.now(UTC) - timedelta(days=1))
    api.platform.commands.append(cr.credential_stream(alice), [expired], ANY)
    assert api.platform.wait_for(api.head())
    response = api.client.get(f"/api/v3_0/sensors/{api.sensor('CS 1/power')}",
                              headers={"Authorization": cr.format_api_key("0123456789abcdef", expired_secret)})
    assert (response.status_code, response.json()["status"]) == (401, "TOKEN_EXPIRED")


def test_no_event_outside_the_credential_streams_carries_a_credential(api: ApiHarness) -> None:
    alice = uid(api, ALICE)
    key = api.client.post(f"/api/v3_0/users/{alice}/api-keys", json={"name": "k"}, headers=api.auth(ALICE)).json()
    api.client.patch(f"/api/v3_0/users/{alice}/password-reset", json={"password": "another secret"},
                     headers=api.auth(ADMIN))
    events = api.platform.store.read_all(0, limit=100_000)
    public = [e for e in events if not cr.is_private(e.stream_id)]
    text = json.dumps([e.data for e in public])
    assert "password_hash" not in text and "key_hash" not in text
    assert "$2b$" not in text, "no bcrypt hash"
    assert key["key"] not in json.dumps([e.data for e in events]), "the key itself is stored nowhere"
    assert {e.type for e in events if cr.is_private(e.stream_id)} >= {"PasswordHashSet", "ApiKeyIssued"}
    assert any(e.type == "UserPasswordChanged" and e.stream_id == f"user-{alice}" for e in public)


def test_version_1_user_events_are_upcast_and_their_password_still_works(api: ApiHarness) -> None:
    legacy_hash = cmd.hash_password("legacy password")
    data = {"user_id": 900, "account_id": api.world.accounts["Alpha"], "email": "old@alpha.test",
            "username": "old", "password_hash": legacy_hash, "roles": [], "timezone": "UTC"}
    api.platform.store.append("user-900", [NewEvent(type="UserRegistered", schema_version=1, data=data)])
    assert api.platform.wait_for(api.head())
    stored = api.platform.store.read_stream("user-900")[0]
    assert "password_hash" not in stored.decode().model_dump()
    assert login(api, "old@alpha.test", "legacy password").status_code == 200
