"""MyEMS conventions under /myems (issue 14): log-in by name or e-mail, log-out (the token is refused
afterwards), change password, an admin's reset, and the apikeys family (create with the seed's
PUT and with POST, list, get, update, delete; hashed; the API-Key header acts as its creator until
revoked or expired); auditors read only; another account's keys are invisible."""

from __future__ import annotations

from myems_support import (
    ADMIN,
    AUDITOR,
    login,
    myems_api,  # noqa: F401 - the api fixture
)
from test_api_support import ALICE, BOB, CAROL, PASSWORD

KEY_FIELDS = {"id": int, "name": str, "token": str, "created_datetime_utc": str, "expires_datetime_utc": str}


def test_login_by_name_and_logout_revokes_the_token(api):
    by_name = api.client.put("/myems/users/login", json={"data": {"name": "auditor", "password": PASSWORD}})
    assert by_name.status_code == 200, by_name.text
    headers = login(api, CAROL)
    assert api.client.get("/myems/apikeys", headers=headers).status_code == 200
    assert api.client.put("/myems/users/logout", headers=headers).status_code == 200
    refused = api.client.get("/myems/apikeys", headers=headers)
    assert refused.status_code == 401
    assert refused.json()["title"] == "API.UNAUTHORIZED" and refused.json()["description"] == "API.INVALID_SESSION"
    assert api.client.get("/myems/apikeys", headers=login(api, CAROL)).status_code == 200


def test_change_password_and_admin_reset(api):
    headers = login(api, BOB)
    wrong = api.client.put("/myems/users/changepassword", headers=headers,
                           json={"data": {"old_password": "nope", "new_password": "!MyEMS2-long"}})
    assert wrong.status_code == 400 and wrong.json()["description"] == "API.INVALID_OLD_PASSWORD"
    changed = api.client.put("/myems/users/changepassword", headers=headers,
                             json={"data": {"old_password": PASSWORD, "new_password": "!MyEMS2-long"}})
    assert changed.status_code == 200, changed.text
    login(api, BOB, "!MyEMS2-long")
    not_admin = api.client.put("/myems/users/resetpassword", headers=login(api, ALICE),
                               json={"data": {"name": "bob", "password": PASSWORD}})
    assert not_admin.status_code == 403 and not_admin.json()["title"] == "API.FORBIDDEN"
    reset = api.client.put("/myems/users/resetpassword", headers=login(api, ADMIN),
                           json={"data": {"name": "bob", "password": PASSWORD}})
    assert reset.status_code == 200, reset.text
    login(api, BOB)
    unknown = api.client.put("/myems/users/resetpassword", headers=login(api, ADMIN),
                             json={"data": {"name": "johnson", "password": "NewPassword2"}})
    assert unknown.status_code == 404 and unknown.json()["description"] == "API.USER_NOT_FOUND"


def test_apikeys_family_as_the_seed_sends_it(api):
    headers = login(api, ALICE)
    # the seed: PUT {{base_url}}/apikeys with {"data": {"name": "myems", "expires_datetime_utc": ...}}
    created = api.client.put("/myems/apikeys", headers={**headers, "Content-Type": "text/plain"},  # as the seed
                             content='{\n"data": {"name": "myems", "expires_datetime_utc": "2100-06-30T12:00:00"}\n}')
    assert created.status_code == 201, created.text
    key_id, secret = created.json()["id"], created.json()["token"]
    assert created.headers["Location"] == f"/myems/apikeys/{key_id}" and len(secret) == 128
    item = api.client.get(f"/myems/apikeys/{key_id}", headers=headers).json()
    assert {name: type(value) for name, value in item.items()} == KEY_FIELDS
    assert (item["name"], item["expires_datetime_utc"]) == ("myems", "2100-06-30T12:00:00")
    assert secret not in str(api.client.get("/myems/apikeys", headers=headers).json())  # only a hash is kept
    duplicate = api.client.post("/myems/apikeys", headers=headers,
                                json={"data": {"name": "myems", "expires_datetime_utc": "2100-01-01T00:00:00"}})
    assert duplicate.status_code == 400 and duplicate.json()["description"] == "API.API_KEY_NAME_IS_ALREADY_IN_USE"
    updated = api.client.put(f"/myems/apikeys/{key_id}", headers=headers,
                             json={"data": {"name": "myems2", "expires_datetime_utc": "2101-06-06T12:00:00"}})
    assert updated.status_code == 200
    assert api.client.get(f"/myems/apikeys/{key_id}", headers=headers).json()["name"] == "myems2"
    by_key = api.client.get("/myems/commands", headers={"API-Key": secret})
    assert by_key.status_code == 200, by_key.text
    assert api.client.delete(f"/myems/apikeys/{key_id}", headers=headers).status_code == 204
    revoked = api.client.get("/myems/commands", headers={"API-Key": secret})
    assert revoked.status_code == 401 and revoked.json()["description"] == "API.INVALID_API_KEY"
    assert api.client.get(f"/myems/apikeys/{key_id}", headers=headers).status_code == 404


def test_expired_key_isolation_and_auditors(api):
    headers = login(api, ALICE)
    expired = api.client.post("/myems/apikeys", headers=headers,
                              json={"data": {"name": "old", "expires_datetime_utc": "2020-01-01T00:00:00Z"}})
    assert expired.status_code == 201
    refused = api.client.get("/myems/apikeys", headers={"API-Key": expired.json()["token"]})
    assert refused.status_code == 401 and refused.json()["description"] == "API.API_KEY_HAS_EXPIRED"
    key_id = expired.json()["id"]
    bob = login(api, BOB)
    assert key_id not in [k["id"] for k in api.client.get("/myems/apikeys", headers=bob).json()]
    assert api.client.get(f"/myems/apikeys/{key_id}", headers=bob).status_code == 403
    assert api.client.delete(f"/myems/apikeys/{key_id}", headers=bob).status_code == 403
    auditor = login(api, AUDITOR)
    assert key_id in [k["id"] for k in api.client.get("/myems/apikeys", headers=auditor).json()]
    body = {"data": {"name": "audit", "expires_datetime_utc": "2100-01-01T00:00:00"}}
    assert api.client.post("/myems/apikeys", headers=auditor, json=body).status_code == 403
    assert api.client.delete(f"/myems/apikeys/{key_id}", headers=auditor).status_code == 403
    bad = api.client.post("/myems/apikeys", headers=headers,
                          json={"data": {"name": "x", "expires_datetime_utc": "soon"}})
    assert bad.status_code == 400 and bad.json()["field"] == "expires_datetime_utc"
    assert api.client.get("/myems/apikeys").status_code == 401
