"""MyEMS conventions under ``/myems`` (issue 14): sign-out, password change and admin reset, and
the ``apikeys`` family. Bodies are ``{"data": {...}}``; headers ``User-UUID`` + ``Token`` (or ``API-Key``).

* ``PUT /myems/users/logout`` -> 200; the session token is refused from then on
* ``PUT /myems/users/changepassword`` ``{"data": {"old_password", "new_password"}}`` -> 200
* ``PUT /myems/users/resetpassword`` ``{"data": {"name", "password"}}`` -> 200 (admins only)
* ``POST`` (or ``PUT``, as the seed writes it) ``/myems/apikeys`` ``{"data": {"name",
  "expires_datetime_utc"}}`` -> 201, ``Location``, body ``{"id", "token"}``: the secret, shown only here
* ``GET /myems/apikeys``, ``GET /myems/apikeys/{id}`` -> ``{"id", "name", "token", "created_datetime_utc",
  "expires_datetime_utc"}`` (``token``: the first 8 characters and ``...``; only a hash is kept)
* ``PUT /myems/apikeys/{id}`` (same body) -> 200; ``DELETE /myems/apikeys/{id}`` -> 204 (revoked)

An API key acts as the user who created it; users see their account's keys (admins and auditors
all); auditors never create, change or delete keys.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Response
from pydantic import BaseModel, ConfigDict, Field

from api.auth import CurrentUser, TokenService, password_hash_of
from api.deps import ReadConn, get_tokens, require_account_access
from api.errors import ApiError
from api.myems import PREFIX, MyEmsCommands, MyEmsRoute, MyEmsUser
from api.routers.myems_common import Envelope, SelfCommands, WaitProjected, created, myems_datetime, utc_field
from commands import myems_access as handlers
from domain import myems_access as ma
from domain.credentials import credential_stream
from projections import myems_access as q
from projections import registry_query as rq
from projections.credentials import credentials_of

router = APIRouter(prefix=PREFIX, tags=["MyEMS users and API keys"], route_class=MyEmsRoute)
ACCESS = "projection.myems_access"
REGISTRY = "projection.registry"


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="ignore")

    old_password: str
    new_password: str = Field(max_length=256)


class PasswordReset(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1)
    password: str = Field(max_length=256)


class ApiKeyData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=128)
    expires_datetime_utc: str


@router.put("/users/logout")
def logout(
    user: MyEmsUser,
    commands: SelfCommands,
    wait: WaitProjected,
    tokens: Annotated[TokenService, Depends(get_tokens)],
    token: Annotated[str | None, Header(alias="Token")] = None,
) -> Response:
    """Sign out: the session token is refused from then on."""
    if not token:
        raise ApiError(400, "API.INVALID_SESSION", "log out with the Token header of the session", "Token")
    _, expires_in_s = tokens.verify(token)
    handlers.sign_out(commands, user.id, token, datetime.now(UTC) + timedelta(seconds=max(expires_in_s, 0)))
    wait(ACCESS, ma.session_stream(user.id))
    return Response(status_code=200)


@router.put("/users/changepassword")
def change_password(
    body: Envelope, user: MyEmsUser, commands: SelfCommands, conn: ReadConn, wait: WaitProjected
) -> Response:
    """Change the caller's password (``{"data": {"old_password", "new_password"}}``)."""
    data = PasswordChange.model_validate(body.data)
    row = rq.user_by_id(conn, user.id)
    password_hash = password_hash_of(credentials_of(conn, user.id), row) or ""
    handlers.change_password(commands, user.id, password_hash, data.old_password, data.new_password)
    wait("projection.credentials", credential_stream(user.id))
    return Response(status_code=200)


@router.put("/users/resetpassword")
def reset_password(
    body: Envelope, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn, wait: WaitProjected
) -> Response:
    """Set a user's password by name (admins only)."""
    if not user.is_admin:
        raise ApiError(403, "API.FORBIDDEN", "only an administrator resets another user's password")
    data = PasswordReset.model_validate(body.data)
    target = q.user_by_name(conn, data.name)
    if target is None:
        raise ApiError(404, "API.USER_NOT_FOUND", f"no user named {data.name}", "name")
    handlers.set_password(commands, target["id"], data.password)
    wait("projection.credentials", credential_stream(target["id"]))
    return Response(status_code=200)


def _key_item(row: dict) -> dict:
    return {
        "id": row["id"],
        "name": row["name"],
        "token": row["token_sha256"][:8] + "...",
        "created_datetime_utc": myems_datetime(q.expires_utc(row["created_at"])),
        "expires_datetime_utc": myems_datetime(q.expires_utc(row["expires_at"])),
    }


def _visible_key(conn: ReadConn, user: CurrentUser, api_key_id: int, write: bool = False) -> dict:
    row = q.api_key_by_id(conn, api_key_id)
    if row is None:
        raise ApiError(404, "API.API_KEY_NOT_FOUND", f"no API key {api_key_id}", "id")
    require_account_access(user, row["account_id"], write)
    return row


def _key_data(conn: ReadConn, body: Envelope, api_key_id: int | None = None) -> tuple[str, datetime]:
    data = ApiKeyData.model_validate(body.data)
    same_name = q.api_key_by_name(conn, data.name)
    if same_name is not None and same_name["id"] != api_key_id:
        raise ApiError(400, "API.API_KEY_NAME_IS_ALREADY_IN_USE", f"an API key named {data.name} exists", "name")
    return data.name, utc_field(data.expires_datetime_utc, "expires_datetime_utc")


@router.post("/apikeys", status_code=201)
def create_api_key(
    body: Envelope, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn, wait: WaitProjected
) -> Response:
    """Create an API key (``name``, ``expires_datetime_utc``); 201 with its secret ``token``, shown only here."""
    name, expires_at = _key_data(conn, body)
    api_key_id, secret = handlers.new_api_key(commands, user.account_id, user.id, name, expires_at)
    wait(ACCESS, ma.api_key_stream(api_key_id))
    return created("apikeys", api_key_id, {"id": api_key_id, "token": secret})


@router.put("/apikeys", status_code=201, include_in_schema=False)
def create_api_key_seed_method(
    body: Envelope, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn, wait: WaitProjected
) -> Response:
    """The seed creates API keys with ``PUT /apikeys``; same as ``POST``."""
    return create_api_key(body, user, commands, conn, wait)


@router.get("/apikeys")
def list_api_keys(user: MyEmsUser, conn: ReadConn) -> list[dict]:
    """The account's API keys, their secrets shortened (only a hash is kept)."""
    return [_key_item(row) for row in q.api_keys(conn, None if user.can_read_all else user.account_id)]


@router.get("/apikeys/{api_key_id}")
def get_api_key(api_key_id: int, user: MyEmsUser, conn: ReadConn) -> dict:
    """One API key, its secret shortened."""
    return _key_item(_visible_key(conn, user, api_key_id))


@router.put("/apikeys/{api_key_id}")
def update_api_key(
    api_key_id: int, body: Envelope, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn, wait: WaitProjected
) -> Response:
    """Rename an API key or change its expiry."""
    _visible_key(conn, user, api_key_id, write=True)
    name, expires_at = _key_data(conn, body, api_key_id)
    handlers.change_api_key(commands, api_key_id, name, expires_at)
    wait(ACCESS, ma.api_key_stream(api_key_id))
    return Response(status_code=200)


@router.delete("/apikeys/{api_key_id}", status_code=204)
def delete_api_key(
    api_key_id: int, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn, wait: WaitProjected
) -> Response:
    """Revoke an API key; 204."""
    _visible_key(conn, user, api_key_id, write=True)
    handlers.revoke_api_key(commands, api_key_id)
    wait(ACCESS, ma.api_key_stream(api_key_id))
    return Response(status_code=204)
