"""Webhook delivery to a local receiver (127.0.0.1): signatures, retries with back-off, dead
letters, redelivery, restarts, account scoping. The dispatcher runs with an injected clock (no
waiting); the API test runs the platform's own worker with a tiny back-off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from test_api_support import BOB, PASSWORD, ApiHarness, seed_world
from webhook_receiver import Receiver

from commands import registry as cmd
from commands.readings import RecordSensorData, record_sensor_data
from domain.ports.webhooks import Webhook
from infra.bootstrap import build_platform
from infra.settings import Settings
from infra.webhooks import SqlWebhookStore
from infra.webhooks import webhooks as webhooks_table
from streams.webhooks import RetryPolicy, WebhookDispatcher, http_sender

SECRET = "test-secret-0123456789"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def world(tmp_path: Path):
    platform = build_platform(Settings(home=tmp_path, bcrypt_rounds=4))  # not started: no background worker
    seeded = seed_world(platform.commands)
    try:
        yield platform, seeded
    finally:
        platform.close()


def post_readings(platform, sensor: int, n: int) -> None:
    for i in range(n):
        record_sensor_data(
            platform.commands,
            RecordSensorData(sensor_id=sensor, start=datetime(2024, 1, 1, i, tzinfo=UTC), duration=timedelta(hours=1),
                             values=[1, 2, 3, 4], unit="kW", source="test"),
        )  # fmt: skip


def dispatcher(platform, store, clock, policy=RetryPolicy(max_attempts=4, base_backoff_s=1.0)) -> WebhookDispatcher:
    return WebhookDispatcher(  # the receivers listen on 127.0.0.1: private targets allowed
        platform.store, store, sender=http_sender(timeout_s=10), clock=clock, policy=policy, allow_private=True
    )


def add_webhook(store, account: int, url: str, cursor: int, **filters) -> Webhook:
    return store.add(Webhook(id=0, account_id=account, url=url, secret=SECRET, cursor=cursor, **filters))


def test_retried_with_backoff_once_each_across_a_restart(world, tmp_path) -> None:
    platform, seeded = world
    clock = Clock()
    with Receiver(fail_first=2) as receiver:
        receiver.secret = SECRET
        hook = add_webhook(platform.webhooks, seeded.accounts["Alpha"], receiver.url, platform.store.head_position())
        post_readings(platform, seeded.sensors["CS 1/power"], 3)
        first = dispatcher(platform, platform.webhooks, clock)
        assert first.poll() == 3 and first.poll() == 0
        assert first.deliver_due() == 3  # attempt 1: 500
        clock.advance(0.5)
        assert first.deliver_due() == 0  # not due before the 1 s back-off
        clock.advance(0.5)
        assert first.deliver_due() == 3  # attempt 2: 500; next in 2 s
        platform.webhooks.close()  # restart: a new store and dispatcher on the same file
        store = SqlWebhookStore.sqlite(tmp_path / "webhooks.db", platform.webhooks.secrets)
        second = dispatcher(platform, store, clock)
        assert second.poll() == 0
        clock.advance(1.9)
        assert second.deliver_due() == 0
        clock.advance(0.1)
        assert second.deliver_due() == 3  # attempt 3: 200
        clock.advance(3600)
        assert second.deliver_due() == 0
        store.close()
    accepted = receiver.received.accepted
    assert len(accepted) == 3 and all(len(bodies) == 1 for bodies in accepted.values())
    assert set(receiver.received.attempts.values()) == {3}
    assert receiver.received.bad_signatures == 0
    bodies = sorted((b[0] for b in accepted.values()), key=lambda b: b["id"])
    assert [b["type"] for b in bodies] == ["SensorDataRecorded"] * 3
    assert hook.id == 1


def test_always_failing_receiver_ends_in_the_dead_letter_list_and_can_be_redelivered(world) -> None:
    platform, seeded = world
    clock, store = Clock(), platform.webhooks
    with Receiver(always_fail=True) as receiver:
        receiver.secret = SECRET
        hook = add_webhook(store, seeded.accounts["Alpha"], receiver.url, platform.store.head_position())
        post_readings(platform, seeded.sensors["CS 1/power"], 1)
        worker = dispatcher(platform, store, clock, RetryPolicy(max_attempts=3, base_backoff_s=1.0))
        worker.poll()
        for wait_s in (0, 1, 2):  # attempts 1..3, waiting 1 s, then 2 s
            clock.advance(wait_s)
            assert worker.deliver_due() == 1
        clock.advance(60)  # (the receiver refuses timestamps more than 5 min off its own clock)
        assert worker.deliver_due() == 0
        dead = store.deliveries(hook.id, "dead")
        assert len(dead) == 1 and dead[0].attempts == 3 and dead[0].last_error == "HTTP 500"
        receiver.always_fail = False
        assert store.redeliver(hook.id, None, clock()) == 1
        assert worker.deliver_due() == 1
    assert store.deliveries(hook.id, "dead") == []
    assert [(d.status, d.last_error) for d in store.deliveries(hook.id)] == [("delivered", None)]
    assert len(receiver.received.accepted) == 1


def test_webhooks_get_their_account_only_and_never_credentials(world) -> None:
    platform, seeded = world
    clock, store = Clock(), platform.webhooks
    with Receiver() as beta, Receiver() as admin:
        beta.secret = admin.secret = SECRET
        add_webhook(store, seeded.accounts["Beta"], beta.url, 0)
        add_webhook(store, seeded.accounts["Alpha"], admin.url, 0, sees_all=True, types=("UserRegistered",))
        post_readings(platform, seeded.sensors["CS 1/power"], 2)  # Alpha's
        post_readings(platform, seeded.sensors["Other CS/power"], 1)  # Beta's
        worker = dispatcher(platform, store, clock)
        while worker.poll():
            pass
        worker.deliver_due(limit=1000)
    beta_streams = {b[0]["stream_id"] for b in beta.received.accepted.values()}
    beta_sensor, beta_asset = seeded.sensors["Other CS/power"], seeded.assets["Other CS"]
    assert beta_streams == {f"account-{seeded.accounts['Beta']}", f"user-{seeded.users[BOB]}",
                            f"asset-{beta_asset}", f"sensor-{beta_sensor}", f"sensordata-{beta_sensor}"}  # fmt: skip
    users = [b[0]["data"] for b in admin.received.accepted.values()]
    assert len(users) == 4 and not [u for u in users if "password_hash" in u]


def test_webhook_api_and_the_platform_worker(tmp_path) -> None:
    settings = dict(webhook_backoff_s=0.01, webhook_max_attempts=2, webhook_allow_private=True)
    with (
        ApiHarness(tmp_path, **settings) as api,
        Receiver(fail_first=1) as receiver,
        Receiver(always_fail=True) as dead,
    ):
        auditor_account = cmd.register_account(api.platform.commands, cmd.RegisterAccount(name="Audit"))
        cmd.register_user(
            api.platform.commands,
            cmd.RegisterUser(email="aud@audit.test", password=PASSWORD, account_id=auditor_account, roles=["auditor"]),
        )
        sensor = api.sensor("CS 1/power")
        created = api.client.post(
            "/api/v3_0/webhooks", json={"url": receiver.url, "sensors": [sensor]}, headers=api.auth()
        )
        assert created.status_code == 201, created.text
        receiver.secret = created.json()["secret"]
        failing = api.client.post("/api/v3_0/webhooks", json={"url": dead.url}, headers=api.auth()).json()
        dead.secret = failing["secret"]
        assert "secret" not in api.client.get("/api/v3_0/webhooks", headers=api.auth()).json()[0]
        other = api.client.post(
            "/api/v3_0/webhooks", json={"url": receiver.url, "sensors": [sensor]}, headers=api.auth(BOB)
        )
        assert (other.status_code, other.json()["field"]) == (403, "sensors")
        api.platform.wait_for(api.head())
        assert (
            api.client.post(
                "/api/v3_0/webhooks", json={"url": receiver.url}, headers=api.auth("aud@audit.test")
            ).status_code
            == 403
        )
        body = {"start": "2024-01-01T00:00:00Z", "duration": "PT1H", "unit": "kW", "values": [1, 2, 3, 4]}
        assert api.client.post(f"/api/v3_0/sensors/{sensor}/data", json=body, headers=api.auth()).status_code == 200
        assert receiver.wait_until(lambda r: len(r.accepted) == 1)
        hook_id = failing["id"]
        path = f"/api/v3_0/webhooks/{hook_id}/deliveries"

        def dead_letters() -> list:
            return api.client.get(path, params={"status": "dead"}, headers=api.auth()).json()["deliveries"]

        assert dead.wait_until(lambda r: sum(r.attempts.values()) == 2)
        for _ in range(1000):  # the second attempt's outcome is recorded right after the answer
            if dead_letters():
                break
            dead.wait_until(lambda r: False, 0.01)
        assert len(dead_letters()) == 1
        assert api.client.get(path, headers=api.auth(BOB)).status_code == 403
        dead.always_fail = False
        again = api.client.post(f"/api/v3_0/webhooks/{hook_id}/redeliver", headers=api.auth())
        assert again.json() == {"redelivered": 1}
        assert dead.wait_until(lambda r: len(r.accepted) == 1)
    assert list(receiver.received.attempts.values()) == [2]
    assert receiver.received.bad_signatures == dead.received.bad_signatures == 0


def test_private_targets_are_refused_unless_allowed_and_secrets_are_sealed(tmp_path) -> None:
    """SSRF guard at registration (API) and before each delivery; secrets never stored in plaintext."""
    with ApiHarness(tmp_path) as api:  # FLEXLEDGER_WEBHOOK_ALLOW_PRIVATE unset: private targets refused
        for url in ("http://127.0.0.1:9/hook", "http://169.254.169.254/latest/meta-data", "http://[::1]/x"):
            refused = api.client.post("/api/v3_0/webhooks", json={"url": url}, headers=api.auth())
            assert (refused.status_code, refused.json()["status"], refused.json()["field"]) == (
                422, "WEBHOOK_URL_REFUSED", "url"
            ), url  # fmt: skip
        scheme = api.client.post("/api/v3_0/webhooks", json={"url": "ftp://example.com/x"}, headers=api.auth())
        assert scheme.status_code == 422 and api.client.get("/api/v3_0/webhooks", headers=api.auth()).json() == []
    platform = build_platform(Settings(home=tmp_path / "p", bcrypt_rounds=4))
    seeded = seed_world(platform.commands)
    try:
        with Receiver() as receiver:
            receiver.secret = SECRET
            hook = add_webhook(platform.webhooks, seeded.accounts["Alpha"], receiver.url, 0)
            with platform.webhooks.engine.connect() as conn:
                stored = conn.execute(sa.select(webhooks_table.c.secret)).scalar_one()
            assert stored.startswith("pii:v1:") and SECRET not in stored
            assert platform.webhooks.get(hook.id).secret == SECRET
            worker = WebhookDispatcher(platform.store, platform.webhooks, clock=Clock())  # allow_private=False
            assert worker.poll() > 0 and worker.deliver_due() > 0
            pending = platform.webhooks.deliveries(hook.id, "pending")
            assert pending and all(d.last_error.startswith("refused: ") for d in pending)
        assert receiver.received.attempts == {}
    finally:
        platform.close()
