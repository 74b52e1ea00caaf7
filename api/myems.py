"""The MyEMS-compatible API's plumbing: its route class (MyEMS error bodies) and its auth headers.

MyEMS clients send ``User-UUID`` and ``Token`` headers (``PUT /myems/users/login`` returns both).
``Token`` is a flexledger auth token; ``User-UUID`` must be the token's user's UUID (derived from
the user id). Errors answer as MyEMS does: ``{"title": "API.NOT_FOUND", "description":
"API.COMMAND_NOT_FOUND"}`` (plus ``message`` and ``field`` for humans).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

from api.auth import CurrentUser
from api.deps import Services, command_context, get_current_user
from api.errors import ApiError, command_error_status
from api.myems_keys import api_key_user, require_session_open
from commands.context import CommandContext, CommandError

PREFIX = "/myems"
USER_NAMESPACE = uuid.UUID("0b5d3c4e-9a57-4b8e-8f0c-31f7b1d6a0aa")
TITLES = {400: "API.BAD_REQUEST", 401: "API.UNAUTHORIZED", 403: "API.FORBIDDEN", 404: "API.NOT_FOUND",
          409: "API.CONFLICT", 422: "API.BAD_REQUEST"}


def user_uuid(user_id: int) -> str:
    """A user's MyEMS ``User-UUID``."""
    return str(uuid.uuid5(USER_NAMESPACE, f"user-{user_id}"))


class MyEmsErrorOut(BaseModel):
    """MyEMS' error body: ``title`` (e.g. ``API.BAD_REQUEST``), ``description`` (the stable code),
    ``message`` and, ours, the ``field`` at fault."""

    title: str
    description: str
    message: str
    field: str | None = None


MYEMS_ERROR_RESPONSES: dict[int | str, dict] = {"4XX": {"model": MyEmsErrorOut, "description": "MyEMS error"}}


def myems_error(status: int, description: str, message: str, field: str | None = None) -> JSONResponse:
    status = 400 if status == 422 else status  # MyEMS answers bad input with 400
    body = {"title": TITLES.get(status, "API.ERROR"), "description": description, "message": message}
    if field:
        body["field"] = field
    return JSONResponse(body, status_code=status)


def _code(code: str) -> str:
    return code if code.startswith("API.") else f"API.{code}"


def _body_as_json(request: Request) -> None:
    """Read any body but a form or file upload as JSON, as MyEMS does (issue 14: the seed sends
    ``text/plain`` to ``apikeys`` and ``application/TBD`` to ``photovoltaicpowerstations``)."""
    content_type = request.headers.get("content-type", "").lower()
    if request.method in ("POST", "PUT", "PATCH") and not content_type.startswith(
            ("application/json", "multipart/", "application/x-www-form-urlencoded")):
        headers = [(k, v) for k, v in request.scope["headers"] if k != b"content-type"]
        request.scope["headers"] = [*headers, (b"content-type", b"application/json")]
        request.__dict__.pop("_headers", None)


class MyEmsRoute(APIRoute):
    """Routes whose errors (auth, validation, refused commands) take MyEMS' shape."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def myems_handler(request: Request) -> Response:
            _body_as_json(request)  # issue 14: MyEMS reads any body as JSON (the seed sends text/plain)
            try:
                return await handler(request)
            except ApiError as exc:
                return myems_error(exc.status, _code(exc.code), exc.message, exc.field)
            except CommandError as exc:
                return myems_error(command_error_status(exc), _code(exc.code), str(exc), exc.field)
            except (RequestValidationError, ValidationError) as exc:
                first = exc.errors()[0] if exc.errors() else {"loc": ("body",), "msg": "invalid request"}
                field = ".".join(str(p) for p in first["loc"] if p not in ("body", "query", "path", "header"))
                return myems_error(400, "API.INVALID_REQUEST", f"{field or 'body'}: {first['msg']}", field or "body")

        return myems_handler


def get_myems_user(
    services: Services,
    user_uuid_header: Annotated[str | None, Header(alias="User-UUID")] = None,
    token: Annotated[str | None, Header(alias="Token")] = None,
    api_key: Annotated[str | None, Header(alias="API-Key")] = None,
) -> CurrentUser:
    """The user of ``Token`` whose UUID is ``User-UUID`` (401 ``API.INVALID_SESSION`` otherwise),
    or the user an ``API-Key`` acts as."""
    if api_key and not token:  # issue 14: the apikeys family
        return api_key_user(services, api_key)
    if not user_uuid_header or not token:
        raise ApiError(401, "API.NOT_LOGGED_IN", "send the User-UUID and Token headers (PUT /myems/users/login)")
    user = get_current_user(services, token)
    if user_uuid(user.id) != user_uuid_header.strip().lower():
        raise ApiError(401, "API.INVALID_SESSION", "User-UUID does not belong to this Token", "User-UUID")
    require_session_open(services, token)  # issue 14: signed-out tokens
    return user


MyEmsUser = Annotated[CurrentUser, Depends(get_myems_user)]


def get_myems_commands(user: MyEmsUser, request: Request) -> CommandContext:
    """A command context whose events carry the MyEMS user as actor (auditors never write)."""
    if "auditor" in user.roles:
        raise ApiError(403, "API.FORBIDDEN", "auditors cannot change or send commands")
    return command_context(request, user)


MyEmsCommands = Annotated[CommandContext, Depends(get_myems_commands)]
