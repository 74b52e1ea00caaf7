"""MyEMS ``users`` family under ``/myems`` (issue 14): the platform's users in MyEMS' shape.

* ``GET /myems/users`` (by name), ``GET /myems/users/{id}`` -> ``{"id", "name", "display_name",
  "uuid", "email", "is_admin", "is_read_only", "privilege", "account_expiration_datetime",
  "password_expiration_datetime", "is_locked"}``: the caller's account's users (admins and
  auditors: all)
* ``POST /myems/users`` ``{"data": {"name", "display_name", "email", "is_admin", "is_read_only",
  "privilege_id", "password", "account_expiration_datetime", "password_expiration_datetime"}}`` ->
  201 + ``Location``: a user of the caller's account, its password hashed by the platform (bcrypt;
  the platform's policy: at least 8 characters)
* ``PUT /myems/users/{id}`` (same body; ``password`` is not changed here: ``changepassword`` and
  ``resetpassword`` do that) -> 200; ``DELETE /myems/users/{id}`` -> 204: the user is forgotten
  (crypto-shredded, its e-mail address free again); ``PUT /myems/users/unlock/{id}`` -> 200

Served after :mod:`api.routers.myems_users` (``users/login``, ``logout``, ... come first).

Mapping: ``name`` is the username; ``is_admin`` the platform's ``admin`` role, or, with
``is_read_only``, its ``auditor`` role (granted by admins only); locked is the platform's
deactivated user (``unlock`` reactivates it); ``display_name`` and the expiries (MyEMS local
datetimes, read as UTC) are the user's MyEMS profile (an expired account cannot log in);
``privilege`` is ``null``: MyEMS' privileges are not served. Who writes: admins, and
account-admins for the users of their account; users change their own profile, not their roles.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field

from api.auth import TokenService
from api.deps import Audit, ReadConn, get_tokens, require_account_access
from api.errors import ApiError
from api.myems import PREFIX, MyEmsCommands, MyEmsRoute, MyEmsUser, user_uuid
from api.routers.myems_common import Envelope, WaitProjected, created, myems_datetime, utc_field
from api.validation import Id
from commands import myems_access as handlers
from commands.personal_data import ForgetUser, forget_user
from domain import myems_access as ma
from domain import registry as ev
from projections import myems_access as q
from projections import registry_query as rq

router = APIRouter(prefix=PREFIX, tags=["MyEMS users and API keys"], route_class=MyEmsRoute)
ACCESS, REGISTRY = "projection.myems_access", "projection.registry"
EMAIL = re.compile(r"^[_a-z0-9+-]+(\.[_a-z0-9+-]+)*@[a-z0-9-]+(\.[a-z0-9-]+)*(\.[a-z]{2,})$")
MYEMS_ROLES = frozenset({"admin", "auditor"})
Tokens = Annotated[TokenService, Depends(get_tokens)]


class UserData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=255)
    display_name: str = Field(min_length=1, max_length=255)
    email: str = Field(min_length=3, max_length=255)
    is_admin: bool
    is_read_only: bool | None = None
    privilege_id: int | None = None
    password: str | None = Field(default=None, max_length=256)
    account_expiration_datetime: str
    password_expiration_datetime: str


def _roles(data: UserData, current: list[str]) -> list[str]:
    """The platform roles: the user's others kept, ``admin`` or ``auditor`` from MyEMS' flags."""
    mapped = (["auditor"] if data.is_read_only else ["admin"]) if data.is_admin else []
    return [r for r in current if r not in MYEMS_ROLES] + mapped


def user_item(conn: ReadConn, row: dict) -> dict:
    profile = q.user_profile(conn, row["id"]) or {}
    auditor = "auditor" in row["roles"]
    expiry = {k: myems_datetime(q.expires_utc(profile[k])) if profile.get(k) else None
              for k in ("account_expires_at", "password_expires_at")}  # fmt: skip
    return {
        "id": row["id"],
        "name": row["username"],
        "display_name": profile.get("display_name") or row["username"],
        "uuid": user_uuid(row["id"]),
        "email": row["email"],
        "is_admin": "admin" in row["roles"] or auditor,
        "is_read_only": auditor if ("admin" in row["roles"] or auditor) else None,
        "privilege": None,
        "account_expiration_datetime": expiry["account_expires_at"],
        "password_expiration_datetime": expiry["password_expires_at"],
        "is_locked": not row["active"],
    }


def _visible(conn: ReadConn, user: MyEmsUser, user_id: int) -> dict:
    row = rq.user_by_id(conn, user_id)
    if row is None:
        raise ApiError(404, "API.USER_NOT_FOUND", f"no user {user_id}", "id")
    require_account_access(user, row["account_id"])
    return row


def _require_manager(user: MyEmsUser, account_id: int, target: dict | None = None) -> None:
    """403 unless an admin, an account-admin of ``account_id`` (not managing an admin), or the user itself."""
    if user.is_admin or (target is not None and target["id"] == user.id):
        return
    if "account-admin" in user.roles and user.account_id == account_id and (
            target is None or "admin" not in target["roles"]):
        return
    raise ApiError(403, "API.FORBIDDEN", "only an administrator (or the account's) manages users")


def _parsed(conn: ReadConn, user: MyEmsUser, body: Envelope, target: dict | None) -> tuple[UserData, list[str], dict]:
    """The body checked as MyEMS checks it: (data, roles, profile)."""
    data = UserData.model_validate(body.data)
    name, email = data.name.strip(), data.email.strip().lower()
    if not name or not data.display_name.strip():
        raise ApiError(400, "API.INVALID_USER_NAME", "name and display_name must not be blank", "name")
    if not EMAIL.match(email):
        raise ApiError(400, "API.INVALID_EMAIL", f"not an e-mail address: {data.email}", "email")
    same = q.user_by_name(conn, name)
    if same is not None and (target is None or same["id"] != target["id"]):
        raise ApiError(400, "API.USER_NAME_IS_ALREADY_IN_USE", f"a user named {name} exists", "name")
    holder = rq.user_by_email(conn, email)
    if holder is not None and (target is None or holder["id"] != target["id"]):
        raise ApiError(400, "API.EMAIL_IS_ALREADY_IN_USE", f"a user with e-mail {email} exists", "email")
    roles = _roles(data, list(target["roles"]) if target else [])
    granted = set(roles) - set(target["roles"] if target else [])
    if (granted & MYEMS_ROLES or (target and set(target["roles"]) & MYEMS_ROLES - set(roles))) and not user.is_admin:
        raise ApiError(403, "API.FORBIDDEN", "only an administrator grants or takes is_admin", "is_admin")
    profile = {"display_name": data.display_name.strip(),
               "account_expires_at": _local(data.account_expiration_datetime, "account_expiration_datetime"),
               "password_expires_at": _local(data.password_expiration_datetime, "password_expiration_datetime")}
    return data.model_copy(update={"name": name, "email": email}), roles, profile


def _local(value: str, field: str) -> datetime:
    parsed = utc_field(value, field)
    if parsed.year >= 9999:
        raise ApiError(400, "API.INVALID_" + field.upper(), f"{field}: before the year 9999", field)
    return parsed


@router.get("/users")
def list_users(user: MyEmsUser, conn: ReadConn) -> list[dict]:
    """The account's users by name (admins and auditors: every user)."""
    rows = rq.list_users(conn, None if user.can_read_all else user.account_id)
    return [user_item(conn, r) for r in sorted(rows, key=lambda r: (r["username"], r["id"]))]


@router.get("/users/{user_id}")
def get_user(user_id: Id, user: MyEmsUser, conn: ReadConn) -> dict:
    """One user by id."""
    return user_item(conn, _visible(conn, user, user_id))


@router.post("/users", status_code=201)
def create_user(
    body: Envelope, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn, wait: WaitProjected
) -> Response:
    """A new user of the caller's account; 201 with ``Location``."""
    _require_manager(user, user.account_id)
    data, roles, profile = _parsed(conn, user, body, None)
    user_fields = {"email": data.email, "username": data.name, "roles": roles}
    user_id = handlers.create_user(commands, user.account_id, user_fields, data.password or "", profile)
    wait(REGISTRY, ev.stream_of("user", user_id))
    wait(ACCESS, ma.user_profile_stream(user_id))
    return created("users", user_id)


@router.put("/users/{user_id}")
def update_user(
    user_id: Id, body: Envelope, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn, wait: WaitProjected,
    tokens: Tokens,
) -> Response:
    """Change a user's name, display name, e-mail, admin flags and expiries."""
    target = _visible(conn, user, user_id)
    _require_manager(user, target["account_id"], target)
    data, roles, profile = _parsed(conn, user, body, target)
    if user.id == user_id and set(roles) != set(target["roles"]):
        raise ApiError(403, "API.FORBIDDEN", "users cannot change their own is_admin", "is_admin")
    handlers.update_user(commands, user_id, data.email, {"username": data.name, "roles": roles}, profile)
    wait(REGISTRY, ev.stream_of("user", user_id))
    wait(ACCESS, ma.user_profile_stream(user_id))
    tokens.users.forget_user(user_id)
    return Response(status_code=200)


@router.delete("/users/{user_id}", status_code=204)
def delete_user(
    user_id: Id, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn, wait: WaitProjected, audit: Audit,
    tokens: Tokens,
) -> Response:
    """Delete a user (admins only): the platform forgets it (its personal data crypto-shredded)."""
    _visible(conn, user, user_id)
    if not user.is_admin:
        raise ApiError(403, "API.FORBIDDEN", "only an administrator deletes users")
    if user_id == user.id:
        raise ApiError(400, "API.CANNOT_DELETE_YOURSELF", "an administrator cannot delete itself", "id")
    if audit.personal_keys is None:
        raise ApiError(503, "API.PERSONAL_DATA_KEYS_UNAVAILABLE", "this server keeps no personal-data keys")
    forget_user(commands, audit.personal_keys, ForgetUser(user_id=user_id))
    wait(REGISTRY, ev.stream_of("user", user_id))
    tokens.users.forget_user(user_id)
    return Response(status_code=204)


@router.put("/users/unlock/{user_id}")
def unlock_user(
    user_id: Id, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn, wait: WaitProjected
) -> Response:
    """Unlock a user: the platform reactivates it (admins, account-admins of its account)."""
    target = _visible(conn, user, user_id)
    if target["id"] == user.id:
        raise ApiError(403, "API.FORBIDDEN", "users cannot unlock themselves", "id")
    _require_manager(user, target["account_id"], target)
    handlers.set_active(commands, user_id, True)
    wait(REGISTRY, ev.stream_of("user", user_id))
    return Response(status_code=200)
