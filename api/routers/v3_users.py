"""v3 users (FlexMeasures-compatible where FlexMeasures has the route) and their API keys.

* ``GET /api/v3_0/users/{id}``, ``PATCH /api/v3_0/users/{id}`` (``username``, ``timezone``,
  ``active``, ``flexmeasures_roles``) and ``PATCH /api/v3_0/users/{id}/password-reset`` as in
  FlexMeasures. Who may write: the user (not ``active`` nor roles), an admin, or an
  account-admin of the user's account (who cannot grant ``admin`` or ``auditor``). A reset sets
  a random password (or, by an admin, the given ``password``) and ends the user's auth tokens.
* ``PATCH /api/v3_0/users/{id}/password``: the user changes their own password
  (``current_password``, ``new_password``) and gets a fresh token; older tokens stop working.
* ``/api/v3_0/users/{id}/api-keys``: long-lived keys (``GET`` lists, ``POST`` issues and shows
  the key once, ``DELETE .../{key_id}`` revokes). Only a SHA-256 digest is stored.
"""

from __future__ import annotations

from datetime import UTC
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from api.auth import TokenService, password_hash_of
from api.consistency import REGISTRY
from api.deps import Commands, Consistency, ReadConn, User, get_tokens, require_account_access
from api.errors import ApiError
from api.routers.v3_accounts import user_json
from api.validation import Id
from commands import users as cmd
from commands.registry import verify_password
from domain import registry as ev
from domain.credentials import credential_stream
from projections import registry_query as rq
from projections.credentials import credentials_of, list_api_keys

router = APIRouter(prefix="/api/v3_0/users", tags=["users"])
CREDENTIALS = "projection.credentials"
GRANTED_BY_ADMINS_ONLY = frozenset({"admin", "auditor"})
Tokens = Annotated[TokenService, Depends(get_tokens)]


class UserPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str | None = Field(default=None, min_length=1, max_length=255)
    timezone: str | None = Field(default=None, min_length=1, max_length=64)
    active: bool | None = None
    flexmeasures_roles: list[str] | None = None


class PasswordReset(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str | None = Field(default=None, min_length=cmd.PASSWORD_MIN_LENGTH, description="admins only")


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str
    new_password: str = Field(min_length=cmd.PASSWORD_MIN_LENGTH)


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255)
    expires_at: AwareDatetime | None = None


def _user_row(conn: ReadConn, user_id: int) -> dict:
    row = rq.user_by_id(conn, user_id)
    if row is None:
        raise ApiError(404, "UNRECOGNIZED_USER", f"no user with id {user_id}", "id")
    return row


def _require_manager(user, target: dict) -> None:
    """403 unless the caller is the user, an admin, or an account-admin of the user's account
    (and the user is no admin: only admins manage admins)."""
    if user.id == target["id"] or user.is_admin:
        return
    if "account-admin" in user.roles and user.account_id == target["account_id"] and "admin" not in target["roles"]:
        return
    raise ApiError(403, "INVALID_SENDER", "only the user, an admin or an account-admin of the account may do this")


def _check_sensitive(user, target: dict, changes: dict) -> None:
    """As FlexMeasures: nobody changes their own ``active`` or roles."""
    if user.id == target["id"] and {"active", "roles"} & set(changes):
        raise ApiError(403, "INVALID_SENDER", "users cannot change their own active state or roles", "active")
    granted = set(changes.get("roles") or []) - set(target["roles"])
    if granted & GRANTED_BY_ADMINS_ONLY and not user.is_admin:
        raise ApiError(403, "INVALID_SENDER", "only admins may grant the admin or auditor role", "flexmeasures_roles")


def _projected(consistency: Consistency, conn: ReadConn, user_id: int, processor: str, stream_id: str) -> None:
    consistency.wait_until_projected(processor, stream_id=stream_id)
    conn.rollback()  # a fresh read transaction


@router.get("/{user_id}")
def get_user(user_id: Id, user: User, conn: ReadConn) -> dict:
    """One user of the caller's account (admins and auditors: of any account)."""
    row = _user_row(conn, user_id)
    require_account_access(user, row["account_id"])
    return user_json(row)


@router.patch("/{user_id}")
def patch_user(
    user_id: Id,
    body: UserPatch,
    user: User,
    commands: Commands,
    conn: ReadConn,
    consistency: Consistency,
    tokens: Tokens,
) -> dict:
    """Change a user; ``"active": false`` deactivates: their tokens and API keys stop working at once."""
    target = _user_row(conn, user_id)
    _require_manager(user, target)
    changes = body.model_dump(exclude_unset=True)
    if "flexmeasures_roles" in changes:
        changes["roles"] = changes.pop("flexmeasures_roles")
    if not changes or any(v is None for v in changes.values()):
        raise ApiError(422, "UNPROCESSABLE_ENTITY", "give at least one field, none of them null", "body")
    _check_sensitive(user, target, changes)
    cmd.change_user(commands, cmd.ChangeUser(user_id=user_id, changes=changes))
    _projected(consistency, conn, user_id, REGISTRY, ev.stream_of("user", user_id))
    tokens.users.forget_user(user_id)
    return user_json(_user_row(conn, user_id))


@router.patch("/{user_id}/password-reset")
def reset_password(
    user_id: Id,
    user: User,
    commands: Commands,
    conn: ReadConn,
    consistency: Consistency,
    tokens: Tokens,
    body: PasswordReset | None = None,
) -> dict:
    """Set a random password (an admin may give ``password``) and end the user's auth tokens."""
    target = _user_row(conn, user_id)
    _require_manager(user, target)
    password = body.password if body else None
    if password is not None and not user.is_admin:
        raise ApiError(403, "INVALID_SENDER", "only admins may choose the new password", "password")
    cmd.set_password(commands, cmd.SetPassword(user_id=user_id, password=password, reason="reset"))
    _projected(consistency, conn, user_id, CREDENTIALS, credential_stream(user_id))
    tokens.users.forget_user(user_id)
    return {"status": "PROCESSED", "message": f"the password of user {user_id} was reset; their tokens ended"}


@router.patch("/{user_id}/password")
def change_password(
    user_id: Id,
    body: PasswordChange,
    user: User,
    commands: Commands,
    conn: ReadConn,
    consistency: Consistency,
    tokens: Tokens,
) -> dict:
    """The user changes their own password; answers a fresh auth token (older ones stop working)."""
    if user.id != user_id:
        raise ApiError(403, "INVALID_SENDER", "users change only their own password (admins: password-reset)")
    password_hash = password_hash_of(credentials_of(conn, user_id), rq.user_by_id(conn, user_id))
    if not password_hash or not verify_password(body.current_password, password_hash):
        raise ApiError(422, "INVALID_PASSWORD", "the current password is wrong", "current_password")
    epoch = cmd.set_password(commands, cmd.SetPassword(user_id=user_id, password=body.new_password, reason="changed"))
    _projected(consistency, conn, user_id, CREDENTIALS, credential_stream(user_id))
    tokens.users.forget_user(user_id)
    return {"status": "PROCESSED", "auth_token": tokens.issue(user_id, epoch), "user_id": user_id}


def _key_json(row: dict) -> dict:
    def iso(value):
        return None if value is None else (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()

    return {
        "id": row["key_id"],
        "name": row["name"],
        "created_at": iso(row["created_at"]),
        "expires_at": iso(row["expires_at"]),
        "revoked_at": iso(row["revoked_at"]),
    }


@router.get("/{user_id}/api-keys")
def list_keys(user_id: Id, user: User, conn: ReadConn) -> list[dict]:
    """The user's API keys (never the keys themselves)."""
    _require_manager(user, _user_row(conn, user_id))
    return [_key_json(r) for r in list_api_keys(conn, user_id)]


@router.post("/{user_id}/api-keys", status_code=201)
def issue_key(
    user_id: Id, body: ApiKeyIn, user: User, commands: Commands, conn: ReadConn, consistency: Consistency
) -> dict:
    """Issue a long-lived API key; the answer's ``key`` is shown this once (send it as ``Authorization``)."""
    _require_manager(user, _user_row(conn, user_id))
    key_id, key = cmd.issue_api_key(commands, cmd.IssueApiKey(user_id=user_id, **body.model_dump()))
    _projected(consistency, conn, user_id, CREDENTIALS, credential_stream(user_id))
    row = next((r for r in list_api_keys(conn, user_id) if r["key_id"] == key_id), None)
    if row is None:
        raise ApiError(503, "PROJECTION_LAG", f"issued; the read model has not caught up yet (key {key_id})")
    return {**_key_json(row), "key": key}


@router.delete("/{user_id}/api-keys/{key_id}", status_code=204)
def revoke_key(
    user_id: Id, key_id: str, user: User, commands: Commands, conn: ReadConn, consistency: Consistency, tokens: Tokens
) -> Response:
    """Revoke an API key: it stops working at once."""
    _require_manager(user, _user_row(conn, user_id))
    cmd.revoke_api_key(commands, cmd.RevokeApiKey(user_id=user_id, key_id=key_id))
    _projected(consistency, conn, user_id, CREDENTIALS, credential_stream(user_id))
    tokens.users.forget_user(user_id)
    return Response(status_code=204)
