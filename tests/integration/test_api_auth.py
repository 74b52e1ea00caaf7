"""Authentication and authorisation over HTTP: tokens (missing, invalid, expired), 403 and 404."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from test_api_support import ALICE, BOB, PASSWORD, ApiHarness

from api.auth import TOKEN_SALT
from projections.registry import users

TOKEN_MAX_AGE_S = 600
DATA = {"start": "2021-06-01T00:00:00Z", "duration": "PT30M", "unit": "kW", "values": [1.0, 2.0]}


@pytest.fixture
def api(tmp_path: Path):
    with ApiHarness(tmp_path, token_max_age_s=TOKEN_MAX_AGE_S) as harness:
        yield harness


def token_issued_ago(api: ApiHarness, user_id: int, age_s: int, secret: str | None = None) -> str:
    """A token as the server issues it, but stamped ``age_s`` seconds in the past."""

    class PastSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - age_s

    serializer = URLSafeTimedSerializer(secret or api.platform.token_secret, salt=TOKEN_SALT, signer=PastSigner)
    return serializer.dumps({"user_id": user_id})


def get_sensor(api: ApiHarness, headers: dict) -> object:
    return api.client.get(f"/api/v3_0/sensors/{api.sensor('CS 2/power')}", headers=headers)


def test_missing_token_is_401(api: ApiHarness) -> None:
    response = get_sensor(api, {})
    assert response.status_code == 401
    assert (response.json()["status"], response.json()["field"]) == ("UNAUTHORIZED", "Authorization")


@pytest.mark.parametrize("token", ["garbage", "Bearer ", "eyJ1c2VyX2lkIjoxfQ.invalid.signature"])
def test_invalid_token_is_401(api: ApiHarness, token: str) -> None:
    response = get_sensor(api, {"Authorization": token})
    assert response.status_code == 401
    assert response.json()["status"] == "UNAUTHORIZED"


def test_token_signed_with_another_secret_is_401(api: ApiHarness) -> None:
    forged = token_issued_ago(api, api.world.users[ALICE], 0, secret="not the platform's secret")
    response = get_sensor(api, {"Authorization": forged})
    assert response.status_code == 401
    assert response.json()["status"] == "UNAUTHORIZED"


def test_token_expires_after_the_configured_max_age(api: ApiHarness) -> None:
    alice = api.world.users[ALICE]
    fresh_enough = token_issued_ago(api, alice, TOKEN_MAX_AGE_S - 60)
    assert get_sensor(api, {"Authorization": fresh_enough}).status_code == 200
    expired = token_issued_ago(api, alice, TOKEN_MAX_AGE_S + 60)  # well within the 6 h default
    response = get_sensor(api, {"Authorization": expired})
    assert response.status_code == 401
    assert response.json()["status"] == "TOKEN_EXPIRED"


def test_issued_token_works_raw_and_as_bearer(api: ApiHarness) -> None:
    token = api.token(ALICE)
    assert get_sensor(api, {"Authorization": token}).status_code == 200
    assert get_sensor(api, {"Authorization": f"Bearer {token}"}).status_code == 200


def test_wrong_password_gets_no_token(api: ApiHarness) -> None:
    response = api.client.post("/api/requestAuthToken", json={"email": ALICE, "password": PASSWORD + "!"})
    assert response.status_code == 401
    assert response.json()["status"] == "UNAUTHORIZED"
    unknown = api.client.post("/api/requestAuthToken", json={"email": "nobody@x.test", "password": PASSWORD})
    assert unknown.status_code == 401


def test_another_accounts_sensor_is_403_and_stores_nothing(api: ApiHarness) -> None:
    sensor = api.sensor("Other CS/power")  # Beta's
    head = api.head()
    posted = api.client.post(f"/api/v3_0/sensors/{sensor}/data", json=DATA, headers=api.auth(ALICE))
    assert posted.status_code == 403
    assert posted.json()["status"] == "INVALID_SENDER"
    params = {"start": DATA["start"], "duration": "PT30M"}
    read = api.client.get(f"/api/v3_0/sensors/{sensor}/data", params=params, headers=api.auth(ALICE))
    assert read.status_code == 403
    assert api.client.get(f"/api/v3_0/sensors/{sensor}", headers=api.auth(ALICE)).status_code == 403
    assert api.head() == head
    owner = api.client.post(f"/api/v3_0/sensors/{sensor}/data", json=DATA, headers=api.auth(BOB))
    assert owner.status_code == 200


def test_unknown_sensor_is_404(api: ApiHarness) -> None:
    params = {"start": DATA["start"], "duration": "PT30M"}
    response = api.client.get("/api/v3_0/sensors/4242/data", params=params, headers=api.auth())
    assert response.status_code == 404
    assert response.json()["status"] == "UNRECOGNIZED_SENSOR"
    assert api.client.get("/api/v3_0/sensors/4242", headers=api.auth()).status_code == 404


def test_v2_endpoints_need_a_token_too(api: ApiHarness) -> None:
    params = {"type": "GetMeterDataRequest", "connection": "ea1.2026-11.io.flexledger:1:1"}
    response = api.client.get("/api/v2_0/getMeterData", params=params)
    assert response.status_code == 401
    assert response.json()["status"] == "UNAUTHORIZED"
    assert response.json()["type"] == "GetMeterDataResponse"
    posted = api.client.post("/api/v2_0/postMeterData", json={}, headers={"Authorization": "garbage"})
    assert (posted.status_code, posted.json()["status"]) == (401, "UNAUTHORIZED")
    assert api.client.get("/api/v2_0/getConnection").status_code == 401
    assert api.client.get("/api/v2_0/getService").status_code == 200  # public


class FakeClock:
    """A monotonic clock for the token cache, moved by hand (seconds)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def set_user_active(api: ApiHarness, user_id: int, active: bool) -> None:
    """Change the user's row in the read model, as a projected deactivation would."""
    with api.platform.read_models.write_engine.begin() as conn:
        conn.execute(users.update().where(users.c.id == user_id).values(active=active))


def test_a_cached_user_does_not_make_an_expired_token_valid(api: ApiHarness) -> None:
    alice = api.world.users[ALICE]
    assert get_sensor(api, {"Authorization": token_issued_ago(api, alice, 0)}).status_code == 200  # cached
    expired = token_issued_ago(api, alice, TOKEN_MAX_AGE_S + 60)
    response = get_sensor(api, {"Authorization": expired})
    assert (response.status_code, response.json()["status"]) == (401, "TOKEN_EXPIRED")


def test_a_deactivated_user_is_refused_once_the_cache_entry_is_stale(api: ApiHarness) -> None:
    clock = FakeClock()
    api.app.state.tokens.users.clock = clock
    headers = api.auth(ALICE)
    assert get_sensor(api, headers).status_code == 200  # the token's user is cached now
    set_user_active(api, api.world.users[ALICE], False)
    clock.now += api.app.state.tokens.users.ttl_s
    response = get_sensor(api, headers)
    assert (response.status_code, response.json()["status"]) == (401, "UNAUTHORIZED")
    set_user_active(api, api.world.users[ALICE], True)
    assert get_sensor(api, headers).status_code == 200  # a refusal is not cached
