"""MyEMS ``users`` family (issue 14) with the seed's own requests: list, get, create, update,
delete and unlock over the platform's users (passwords hashed by the platform; admin flags are
the platform's roles; delete forgets the user)."""

from __future__ import annotations

from myems_support import (
    ADMIN,
    AUDITOR,
    check_shape,
    created_id,
    login,
    myems_api,  # noqa: F401 - the api fixture
)
from test_api_support import ALICE, BOB, PASSWORD

SEED_NEW = {"name": "demo", "display_name": "Demo", "email": "demo@myems.io", "is_admin": False, "privilege_id": 1,
            "password": "!MyEMS1", "account_expiration_datetime": "2100-01-01T00:00:00",
            "password_expiration_datetime": "2100-01-01T00:00:00"}
SEED_UPDATE = {"name": "albert", "display_name": "Mr. Albert", "email": "albert@myems.io", "is_admin": False,
               "privilege_id": 1, "password": "!MyEMS1", "account_expiration_datetime": "2100-01-01T00:00:00",
               "password_expiration_datetime": "2100-01-01T00:00:00"}
USER = {"id": int, "name": str, "display_name": str, "uuid": str, "email": str, "is_admin": bool,
        "is_read_only": bool, "privilege": dict, "account_expiration_datetime": str,
        "password_expiration_datetime": str, "is_locked": bool}


def test_seed_user_create_get_update_and_log_in(api):
    admin = login(api, ADMIN)
    short = api.client.post("/myems/users", headers=admin, json={"data": SEED_NEW})
    # the platform's password policy (8+ characters) refuses the seed's 7-character "!MyEMS1"
    assert (short.status_code, short.json()["description"], short.json()["field"]) == (
        400, "API.INVALID_PASSWORD", "password")
    body = {**SEED_NEW, "password": "!MyEMS1-long"}
    user_id = created_id(api.client.post("/myems/users", headers=admin, json={"data": body}), "users")
    item = api.client.get(f"/myems/users/{user_id}", headers=admin).json()
    check_shape(item, USER)
    assert item == {**item, "name": "demo", "display_name": "Demo", "email": "demo@myems.io", "is_admin": False,
                    "is_read_only": None, "privilege": None, "account_expiration_datetime": "2100-01-01T00:00:00",
                    "password_expiration_datetime": "2100-01-01T00:00:00", "is_locked": False}
    assert user_id in [u["id"] for u in api.client.get("/myems/users", headers=admin).json()]
    signed_in = api.client.put("/myems/users/login", json={"data": {"name": "demo", "password": "!MyEMS1-long"}})
    assert signed_in.status_code == 200 and signed_in.json()["display_name"] == "Demo", signed_in.text
    platform = api.client.get(f"/api/v3_0/users/{user_id}", headers=api.auth(ADMIN)).json()
    assert (platform["email"], platform["account_id"]) == ("demo@myems.io", api.world.accounts["Alpha"])

    assert api.client.put(f"/myems/users/{user_id}", headers=admin, json={"data": SEED_UPDATE}).status_code == 200
    item = api.client.get(f"/myems/users/{user_id}", headers=admin).json()
    assert (item["name"], item["display_name"], item["email"]) == ("albert", "Mr. Albert", "albert@myems.io")
    old = api.client.put("/myems/users/login", json={"data": {"email": "demo@myems.io", "password": "!MyEMS1-long"}})
    assert old.status_code == 400  # the old address is no longer the user's
    new = api.client.put("/myems/users/login", json={"data": {"email": "albert@myems.io", "password": "!MyEMS1-long"}})
    assert new.status_code == 200, new.text  # the password was not changed by the update
    again = api.client.post("/myems/users", headers=admin, json={"data": {**body, "email": "albert@myems.io"}})
    assert (again.status_code, again.json()["description"]) == (400, "API.EMAIL_IS_ALREADY_IN_USE")
    reused = api.client.post("/myems/users", headers=admin, json={"data": {**body, "name": "demo2"}})
    assert reused.status_code == 201, reused.text  # demo@myems.io was released by the update


def test_admin_flags_expiry_lock_and_delete(api):
    admin, alice = login(api, ADMIN), login(api)
    body = {**SEED_NEW, "name": "reader", "email": "reader@myems.io", "password": "reader-secret",
            "is_admin": True, "is_read_only": True}
    refused = api.client.post("/myems/users", headers=alice, json={"data": body})
    assert refused.status_code == 403  # MyEMS: administrators manage users
    reader = created_id(api.client.post("/myems/users", headers=admin, json={"data": body}), "users")
    item = api.client.get(f"/myems/users/{reader}", headers=admin).json()
    assert (item["is_admin"], item["is_read_only"]) == (True, True)
    roles = api.client.get(f"/api/v3_0/users/{reader}", headers=api.auth(ADMIN)).json()["flexmeasures_roles"]
    assert roles == ["auditor"]  # a read-only administrator is the platform's auditor
    assert api.client.get(f"/myems/users/{api.world.users[BOB]}", headers=alice).status_code == 403
    assert api.client.get("/myems/users/999999", headers=admin).json()["description"] == "API.USER_NOT_FOUND"
    assert {u["email"] for u in api.client.get("/myems/users", headers=alice).json()} >= {ALICE}

    expired = {**body, "name": "expired", "email": "expired@myems.io", "is_admin": False,
               "account_expiration_datetime": "2001-01-01T00:00:00"}
    created_id(api.client.post("/myems/users", headers=admin, json={"data": expired}), "users")
    late = api.client.put("/myems/users/login", json={"data": {"name": "expired", "password": "reader-secret"}})
    assert (late.status_code, late.json()["description"]) == (400, "API.USER_ACCOUNT_HAS_EXPIRED")

    deactivated = api.client.patch(f"/api/v3_0/users/{reader}", headers=api.auth(ADMIN), json={"active": False})
    assert deactivated.status_code == 200, deactivated.text
    assert api.client.get(f"/myems/users/{reader}", headers=admin).json()["is_locked"] is True
    assert api.client.put(f"/myems/users/unlock/{reader}", headers=login(api, AUDITOR)).status_code == 403
    assert api.client.put(f"/myems/users/unlock/{reader}", headers=admin).status_code == 200
    assert api.client.get(f"/myems/users/{reader}", headers=admin).json()["is_locked"] is False

    assert api.client.delete(f"/myems/users/{reader}", headers=alice).status_code == 403
    assert api.client.delete(f"/myems/users/{reader}", headers=admin).status_code == 204
    gone = api.client.get(f"/myems/users/{reader}", headers=admin)
    assert (gone.status_code, gone.json()["description"]) == (404, "API.USER_NOT_FOUND")
    refused = api.client.put("/myems/users/login", json={"data": {"email": "reader@myems.io", "password": PASSWORD}})
    assert refused.status_code == 400
