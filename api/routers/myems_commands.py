"""MyEMS-compatible ``commands`` family under ``/myems`` (headers ``User-UUID`` and ``Token``).

* ``PUT /myems/users/login`` ``{"data": {"email" (or "name"), "password"}}`` -> ``uuid`` and ``token``
* ``GET /myems/commands``, ``GET /myems/commands/{id}``, ``GET /myems/commands/{id}/export``
* ``POST /myems/commands`` ``{"data": {"name", "topic", "payload", "set_value"?, "description"?,
  "asset_id"}}`` -> 201 with ``Location`` (``asset_id``: the device the command drives, flexledger's
  extension); ``POST /myems/commands/import`` (also ``/commands/{id}/import`` as in the seed)
* ``PUT /myems/commands/{id}`` (same body), ``DELETE /myems/commands/{id}`` -> 204
* ``POST /myems/commands/{id}/clone`` -> 201 with ``Location``
* ``PUT /myems/commands/{id}/send`` ``{"data": {"set_value": 2.0}}`` -> a device command (action
  ``set_value``) the dispatcher sends; the answer names it (``device_command_id``, ``status``).

A command item: ``{"id", "name", "uuid", "topic", "payload", "set_value", "description", "asset_id"}``.
Users see their account's commands (admins and auditors all); auditors never write.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Response
from pydantic import BaseModel, ConfigDict

from api.auth import CurrentUser, TokenService
from api.deps import ReadConn, Services, get_tokens, require_account_access, visible_asset
from api.device_access import require_control
from api.errors import ApiError
from api.login import password_login
from api.myems import MYEMS_ERROR_RESPONSES, PREFIX, MyEmsCommands, MyEmsRoute, MyEmsUser, user_uuid
from commands import myems_commands as handlers
from domain.myems_commands import myems_command_stream
from projections import myems_access as access
from projections import myems_commands as q
from projections import registry_query as rq
from projections.myems_access import user_by_name as by_name

router = APIRouter(prefix=PREFIX, tags=["MyEMS commands"], route_class=MyEmsRoute, responses=MYEMS_ERROR_RESPONSES)
PROJECTION = "projection.myems_commands"
FIELDS = ("id", "name", "uuid", "topic", "payload", "set_value", "description", "asset_id")


class Envelope(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: dict[str, Any]


class SendData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    set_value: float | None = None


class LoginData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    email: str | None = None
    name: str | None = None
    password: str


def _email_of_name(services: Services, name: str) -> str:
    """The e-mail of the user called ``name`` (MyEMS logs in by name or e-mail); "" when none."""
    with services.read_connection() as conn:
        user = by_name(conn, name)
    return user["email"] if user else ""


@router.put("/users/login")
def login(body: Envelope, services: Services, tokens: Annotated[TokenService, Depends(get_tokens)]) -> dict:
    """MyEMS sign-in: ``{"data": {"email" (or "name"), "password"}}`` -> the user's ``uuid`` and a ``token``
    (send both as ``User-UUID`` and ``Token`` headers)."""
    data = LoginData.model_validate(body.data)
    email = data.email or _email_of_name(services, data.name or "")  # issue 14: login by name too
    try:
        login = password_login(services, tokens, email, data.password)
    except ApiError as exc:
        raise ApiError(400, "API.INVALID_PASSWORD", exc.message, "password") from exc
    user = login.user
    with services.read_connection() as conn:
        profile = access.user_profile(conn, user["id"]) or {}
    now = datetime.now(UTC)
    for key, code in (("account_expires_at", "API.USER_ACCOUNT_HAS_EXPIRED"),
                      ("password_expires_at", "API.USER_PASSWORD_HAS_EXPIRED")):
        if profile.get(key) is not None and access.expires_utc(profile[key]) <= now:
            raise ApiError(400, code, f"{key.removesuffix('_at').replace('_', ' ')} passed", "password")
    return {
        "id": user["id"],
        "name": user["username"],
        "display_name": profile.get("display_name") or user["username"],
        "email": user["email"],
        "uuid": user_uuid(user["id"]),
        "is_admin": "admin" in user["roles"],
        "token": login.token,
    }


def command_item(row: dict) -> dict:
    return {field: row[field] for field in FIELDS}


def visible_command(conn: ReadConn, user: CurrentUser, command_id: int, write: bool = False) -> dict:
    row = q.definition_by_id(conn, command_id)
    if row is None:
        raise ApiError(404, "API.COMMAND_NOT_FOUND", f"no command {command_id}", "id")
    require_account_access(user, row["account_id"], write)
    return row


def _fields(conn: ReadConn, user: CurrentUser, data: dict[str, Any]) -> handlers.MyEmsCommandFields:
    fields = handlers.MyEmsCommandFields.model_validate(data)
    require_control(user, visible_asset(conn, user, fields.asset_id, write=True))
    return fields


def _created(services: Services, command_id: int) -> Response:
    services.consistency.wait_until_projected(PROJECTION, stream_id=myems_command_stream(command_id))
    return Response(status_code=201, headers={"Location": f"{PREFIX}/commands/{command_id}"})


@router.get("/commands")
def list_commands(user: MyEmsUser, conn: ReadConn) -> list[dict]:
    """The account's MyEMS commands (admins and auditors: all)."""
    account = None if user.can_read_all else user.account_id
    return [command_item(row) for row in q.list_definitions(conn, account)]


@router.get("/commands/{command_id}")
def get_command(command_id: int, user: MyEmsUser, conn: ReadConn) -> dict:
    """One MyEMS command by id."""
    return command_item(visible_command(conn, user, command_id))


@router.get("/commands/{command_id}/export")
def export_command(command_id: int, user: MyEmsUser, conn: ReadConn) -> dict:
    """One MyEMS command in the JSON that ``POST /commands/import`` accepts."""
    return command_item(visible_command(conn, user, command_id))


@router.post("/commands", status_code=201)
def create_command(
    body: Envelope, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn, services: Services
) -> Response:
    """Create a MyEMS command (``name``, ``topic``, ``payload``, ``set_value``, ``asset_id``: the device it
    drives); 201 with ``Location``."""
    fields = _fields(conn, user, body.data)
    asset = rq.asset_by_id(conn, fields.asset_id)
    return _created(services, handlers.create_definition(commands, asset["account_id"], fields))


@router.post("/commands/import", status_code=201)
def import_command(
    body: Envelope, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn, services: Services
) -> Response:
    """Create a MyEMS command from an export; 201 with ``Location``."""
    return create_command(body, user, commands, conn, services)


@router.post("/commands/{command_id}/import", status_code=201, include_in_schema=False)
def import_command_seed_path(
    command_id: int, body: Envelope, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn, services: Services
) -> Response:
    """The seed writes the import path with an id; it is ignored, as MyEMS does."""
    return create_command(body, user, commands, conn, services)


@router.post("/commands/{command_id}/clone", status_code=201)
def clone_command(
    command_id: int, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn, services: Services
) -> Response:
    """Copy a MyEMS command; 201 with the copy's ``Location``."""
    row = visible_command(conn, user, command_id, write=True)
    fields = _fields(conn, user, {**row, "name": f"{row['name']} (copy)"})
    return _created(services, handlers.create_definition(commands, row["account_id"], fields))


@router.put("/commands/{command_id}")
def update_command(
    command_id: int, body: Envelope, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn, services: Services
) -> Response:
    """Change a MyEMS command (the same body as create)."""
    visible_command(conn, user, command_id, write=True)
    handlers.update_definition(commands, command_id, _fields(conn, user, body.data))
    services.consistency.wait_until_projected(PROJECTION, stream_id=myems_command_stream(command_id))
    return Response(status_code=200)


@router.delete("/commands/{command_id}", status_code=204)
def delete_command(
    command_id: int, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn, services: Services
) -> Response:
    """Delete a MyEMS command; 204."""
    visible_command(conn, user, command_id, write=True)
    handlers.delete_definition(commands, command_id)
    services.consistency.wait_until_projected(PROJECTION, stream_id=myems_command_stream(command_id))
    return Response(status_code=204)


@router.put("/commands/{command_id}/send")
def send_command(
    command_id: int,
    body: Envelope,
    user: MyEmsUser,
    commands: MyEmsCommands,
    conn: ReadConn,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)] = None,
) -> dict:
    """Send the command's ``set_value`` to its device: a device command (action ``set_value``) that the
    dispatcher delivers; the answer names it (``device_command_id``, ``status``)."""
    row = visible_command(conn, user, command_id, write=True)
    require_control(user, visible_asset(conn, user, row["asset_id"], write=True))
    data = SendData.model_validate(body.data)
    state = handlers.send_definition(commands, command_id, data.set_value, idempotency_key)
    return {"device_command_id": str(state.command_id), "status": state.status, "entity_id": state.requested.asset_id}
