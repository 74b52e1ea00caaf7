"""The registry's rules (domain/registry.py) and credential helpers (domain/credentials.py): no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain import credentials as cr
from domain import registry as ev
from domain.events import decode


def asset(asset_id: int, parent: int | None = None, **fields) -> ev.AssetRegistered:
    values = {"account_id": 1, "name": f"a{asset_id}", "asset_type": "battery", **fields}
    return ev.AssetRegistered(asset_id=asset_id, parent_asset_id=parent, **values)


# 1 <- 2 <- 3 (3's parent is 2, 2's parent is 1)
TREE = {1: asset(1), 2: asset(2, parent=1), 3: asset(3, parent=2)}


def refused(current, changes) -> ev.RegistryError:
    with pytest.raises(ev.RegistryError) as caught:
        ev.decide_asset_change(current, changes, TREE.get)
    return caught.value


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"name": None}, "INVALID_FIELD", "name"),
        ({"name": " "}, "INVALID_FIELD", "name"),
        ({"name": "x" * 256}, "INVALID_FIELD", "name"),
        ({"attributes": None}, "INVALID_FIELD", "attributes"),
        ({"latitude": "north"}, "INVALID_FIELD", "latitude"),
        ({"asset_type": "spaceship"}, "INVALID_ASSET_TYPE", "generic_asset_type_id"),
        ({"parent_asset_id": 1}, "INVALID_PARENT", "parent_asset_id"),
        ({"parent_asset_id": 3}, "INVALID_PARENT", "parent_asset_id"),
        ({"parent_asset_id": 99}, "UNRECOGNIZED_ASSET", "parent_asset_id"),
        ({"account_id": 2}, "INVALID_FIELD", "account_id"),
    ],
)
def test_asset_changes_that_would_break_the_state_are_refused(changes, code, field):
    error = refused(TREE[1], changes)
    assert (error.code, error.field) == (code, field)
    assert field in str(error) or code != "INVALID_FIELD"


def test_valid_asset_changes_pass():
    assert ev.decide_asset_change(TREE[3], {"parent_asset_id": 1, "name": "moved"}, TREE.get).changes == {
        "parent_asset_id": 1, "name": "moved"}
    assert ev.decide_asset_change(TREE[3], {"parent_asset_id": None}, TREE.get).changes == {"parent_asset_id": None}


def test_a_registration_obeys_the_same_rules():
    ev.check_asset(asset(0, parent=3), TREE.get)
    with pytest.raises(ev.RegistryError, match="no asset 99"):
        ev.check_asset(asset(0, parent=99), TREE.get)
    with pytest.raises(ev.RegistryError):
        ev.check_asset(asset(0, name=""), TREE.get)


@pytest.mark.parametrize("changes", [{"name": None}, {"name": ""}, {"unit": None}, {"timezone": " "},
                                     {"attributes": None}, {"event_resolution_s": -1}])
def test_sensor_changes_that_would_break_the_state_are_refused(changes):
    sensor = ev.SensorRegistered(sensor_id=1, asset_id=1, name="power", unit="kW", event_resolution_s=900)
    with pytest.raises(ev.RegistryError) as caught:
        ev.decide_sensor_change(sensor, changes, has_data=False)
    assert caught.value.field == next(iter(changes))


def test_user_changes_are_validated_and_folded():
    user = ev.evolve_user(None, ev.UserRegistered(user_id=1, account_id=1, email="a@b.c", username="a"))
    change = ev.decide_user_change(user, {"active": False, "roles": ["MDC"]})
    assert ev.evolve_user(user, change).active is False
    for bad, field in (({"roles": ["king"]}, "roles"), ({"username": ""}, "username"), ({"email": "x"}, "email"),
                       ({"active": None}, "active")):
        with pytest.raises(ev.RegistryError) as caught:
            ev.decide_user_change(user, bad)
        assert caught.value.field == field


def test_version_1_user_events_lose_their_password_hash_on_read():
    v1 = {"user_id": 1, "account_id": 1, "email": "a@b.c", "username": "a", "password_hash": "$2b$secret"}
    assert "password_hash" not in decode("UserRegistered", 1, v1).model_dump()
    assert decode("UserPasswordChanged", 1, {"user_id": 1, "password_hash": "$2b$x"}).model_dump() == {
        "user_id": 1, "reason": "changed"}


def test_api_key_helpers():
    key = cr.format_api_key("abc", "s3cret")
    assert cr.parse_api_key(key) == ("abc", "s3cret")
    assert cr.parse_api_key("abc") is None and cr.parse_api_key("flk_abc") is None
    assert cr.key_matches("s3cret", cr.hash_key_secret("s3cret")) and not cr.key_matches("x", cr.hash_key_secret("y"))
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert cr.key_usable(False, None, now) and not cr.key_usable(True, None, now)
    assert not cr.key_usable(False, now - timedelta(seconds=1), now)
    assert cr.is_private("credential-7") and not cr.is_private("user-7")


def test_an_account_is_renamed_and_deleted():
    """MyEMS renames and deletes cost centers (accounts); a blank name or an unknown field is refused."""
    registered = ev.AccountRegistered(account_id=7, name="Alpha")
    renamed = ev.decide_account_change(registered, {"name": "动力中心2"})
    state = ev.evolve_account(registered, renamed)
    assert (state.account_id, state.name) == (7, "动力中心2")
    assert ev.evolve_account(state, ev.AccountDeleted(account_id=7)) is None
    for changes, field in (({"name": " "}, "name"), ({"roles": ["admin"]}, "roles")):
        with pytest.raises(ev.RegistryError) as refused:
            ev.decide_account_change(registered, changes)
        assert refused.value.field == field
