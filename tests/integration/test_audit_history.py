"""The auditor's history endpoints over real HTTP (in process): paging, filters, scoping, causation."""

from __future__ import annotations

import pytest
from scheduling_support import ALICE, BOB, PASSWORD, SchedulingHarness

from commands import registry as cmd

AUDITOR = "auditor@audit.test"


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    h = SchedulingHarness(tmp_path_factory.mktemp("audit"))
    ctx = h.platform.commands
    account = cmd.register_account(ctx, cmd.RegisterAccount(name="Audit firm"))
    cmd.register_user(ctx, cmd.RegisterUser(email=AUDITOR, password=PASSWORD, account_id=account, roles=["auditor"]))
    h.wait_projected()
    response = h.client.post(
        "/api/v2_0/postUdiEvent", json=h.udi_message(event_id=7), headers={**h.headers(), "X-Request-ID": "req-7"}
    )
    assert response.status_code == 200, response.text
    h.settle()
    try:
        yield h
    finally:
        h.close()


def history(h: SchedulingHarness, email: str = ALICE, path: str = "/api/audit/events", **params) -> dict:
    response = h.client.get(path, params=params, headers=h.headers(email))
    assert response.status_code == 200, response.text
    return response.json()


def all_pages(h: SchedulingHarness, email: str, limit: int, **params) -> list[dict]:
    events, after = [], 0
    for _ in range(10_000):
        page = history(h, email, after=after, limit=limit, **params)
        events += page["events"]
        if page["complete"] and not page["events"]:
            return events
        after = page["next"]
    raise AssertionError("paging did not end")


def test_pages_cover_the_history_once_in_order(harness: SchedulingHarness) -> None:
    small = all_pages(harness, AUDITOR, 7)
    big = history(harness, AUDITOR, limit=1000)["events"]
    positions = [e["id"] for e in small]
    assert positions == sorted(set(positions)) == [e["id"] for e in big]
    assert positions[-1] == harness.head


def test_each_event_carries_its_metadata_and_no_credentials(harness: SchedulingHarness) -> None:
    events = history(harness, AUDITOR, limit=1000, type="UserRegistered")["events"]
    assert {e["data"]["email"] for e in events} >= {ALICE, BOB, AUDITOR}
    assert all("password_hash" not in e["data"] for e in events)
    udi = history(harness, ALICE, type="UdiEventPosted")["events"][0]
    assert udi["metadata"]["actor"].startswith("user:")
    assert udi["metadata"]["correlation_id"] == "req-7"
    assert udi["metadata"]["source"] == "api" and "recorded_at" in udi["metadata"]


def test_users_see_their_account_only(harness: SchedulingHarness) -> None:
    alice = all_pages(harness, ALICE, 50)
    bob = all_pages(harness, BOB, 50)
    everything = all_pages(harness, AUDITOR, 500)
    assert {e["type"] for e in alice} >= {"UdiEventPosted", "ScheduleComputed", "AssetRegistered"}
    assert not {e["id"] for e in alice} & {e["id"] for e in bob}
    assert len(alice) + len(bob) < len(everything)  # the platform's and the audit firm's events
    assert all(e["stream_id"] != f"asset-{harness.world.assets['battery']}" for e in bob)
    assert not [e for e in bob if e["type"] == "IdReserved"]  # platform streams: admins and auditors


def test_filters_by_correlation_actor_type_and_time(harness: SchedulingHarness) -> None:
    correlated = history(harness, ALICE, correlation_id="req-7")["events"]
    assert {"UdiEventPosted", "ScheduleComputed", "SensorDataRecorded"} <= {e["type"] for e in correlated}
    by_scheduler = history(harness, ALICE, actor="scheduler")["events"]
    assert by_scheduler and all(e["metadata"]["actor"] == "scheduler" for e in by_scheduler)
    udi = history(harness, ALICE, type="UdiEventPosted")["events"][0]
    later = history(harness, AUDITOR, limit=1000, since=udi["metadata"]["recorded_at"])["events"]
    assert later[0]["id"] >= udi["id"] and all(
        e["metadata"]["recorded_at"] >= udi["metadata"]["recorded_at"] for e in later
    )
    assert history(harness, AUDITOR, until=udi["metadata"]["recorded_at"], limit=1000)["events"][-1]["id"] < udi["id"]


def test_naive_times_and_bad_paging_are_422_naming_the_field(harness: SchedulingHarness) -> None:
    for params, field in (
        ({"since": "2024-01-01T00:00:00"}, "since"),
        ({"limit": 0}, "limit"),
        ({"after": -1}, "after"),
    ):
        response = harness.client.get("/api/audit/events", params=params, headers=harness.headers())
        assert response.status_code == 422, response.text
        assert response.json()["field"] == field
    assert harness.client.get("/api/audit/events").status_code == 401


def test_stream_history_paged_by_revision_and_scoped(harness: SchedulingHarness) -> None:
    stream = f"udi-{harness.world.assets['battery']}"
    path = f"/api/audit/streams/{stream}/events"
    page = history(harness, ALICE, path=path, limit=1)
    assert [e["stream_revision"] for e in page["events"]] == [0] and page["next"] == 1
    assert history(harness, ALICE, path=path, from_revision=1)["events"] == []
    assert harness.client.get(path, headers=harness.headers(BOB)).status_code == 403
    assert history(harness, AUDITOR, path=path)["events"][0]["type"] == "UdiEventPosted"
    missing = harness.client.get("/api/audit/streams/asset-9999/events", headers=harness.headers())
    assert (missing.status_code, missing.json()["status"]) == (404, "UNKNOWN_STREAM")


def test_causation_chain_from_udi_event_to_schedule_and_back(harness: SchedulingHarness) -> None:
    udi = history(harness, ALICE, type="UdiEventPosted")["events"][0]
    chain = harness.client.get(f"/api/audit/events/{udi['event_id']}/causation", headers=harness.headers()).json()
    effects = [e["type"] for e in chain["effects"]]
    assert "ScheduleComputed" in effects and "JobFinished" in effects and chain["effects_complete"]
    computed = next(e for e in chain["effects"] if e["type"] == "ScheduleComputed")
    back = harness.client.get(f"/api/audit/events/{computed['event_id']}/causation", headers=harness.headers()).json()
    assert [e["event_id"] for e in back["causes"]][0] == udi["event_id"]
    assert back["event"]["event_id"] == computed["event_id"]
    denied = harness.client.get(f"/api/audit/events/{udi['event_id']}/causation", headers=harness.headers(BOB))
    assert denied.status_code == 403
    unknown = harness.client.get("/api/audit/events/00000000-0000-0000-0000-000000000000", headers=harness.headers())
    assert unknown.status_code == 404
