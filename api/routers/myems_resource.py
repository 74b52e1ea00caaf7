"""One builder for MyEMS' CRUD families under ``/myems`` (issue 14).

MyEMS repeats the same eight endpoints per family; :func:`resource_router` serves them from a
:class:`Family` of hooks, so a family states only what differs (how a row is found, shown,
created, changed and deleted):

* ``GET /{path}`` -> ``[item]``; ``GET /{path}/{id}`` and ``GET /{path}/{id}/export`` -> ``item``
* ``POST /{path}``, ``POST /{path}/import`` (and the seed's ``/{path}/{id}/import``, the id ignored
  as MyEMS does) -> 201 + ``Location``; ``POST /{path}/{id}/clone`` -> 201 (name + `` (Copy)``)
* ``PUT /{path}/{id}`` -> 200; ``DELETE /{path}/{id}`` -> 204

Every id is checked by ``visible``: 404 when there is no such row, 403 when it is another
account's (the platform's ``require_account_access``, as every MyEMS route here);
writes go through :data:`~api.myems.MyEmsCommands` (auditors are refused) and wait until the
family's read model holds the change (read-your-writes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Response

from api.auth import CurrentUser
from api.deps import ReadConn, require_account_access
from api.errors import ApiError
from api.myems import PREFIX, MyEmsCommands, MyEmsRoute, MyEmsUser
from api.routers.myems_common import Envelope, Wait, WaitProjected, created
from api.validation import Id
from commands.context import CommandContext

OPERATIONS = frozenset({"list", "get", "export", "create", "import", "clone", "update", "delete"})


@dataclass(frozen=True)
class Call:
    """What a write hook needs: the read connection, the caller, its command context, the waiter."""

    conn: sa.Connection
    user: CurrentUser
    commands: CommandContext
    wait: Wait


@dataclass(frozen=True)
class Family:
    """A MyEMS CRUD family: ``path`` (e.g. ``windfarms``), the OpenAPI ``tag``, and its hooks.

    ``rows(conn, user)`` the rows the caller may list; ``visible(conn, user, id, write)`` one row
    or a 404 in MyEMS' shape; ``item(conn, row)`` its MyEMS JSON; ``create(call, data)`` -> new id;
    ``update(call, row, data)``; ``delete(call, row)``; ``clone_data(row)`` the body a clone is
    created from. ``operations`` limits the endpoints served; ``import_paths`` are the extra
    seed paths an import is sent to (``/{id}/import`` by default)."""

    path: str
    tag: str
    rows: Callable[[sa.Connection, CurrentUser], list[dict]]
    visible: Callable[[sa.Connection, CurrentUser, int, bool], dict]
    item: Callable[[sa.Connection, dict], dict]
    create: Callable[[Call, dict[str, Any]], int]
    update: Callable[[Call, dict, dict[str, Any]], None]
    delete: Callable[[Call, dict], None]
    clone_data: Callable[[dict], dict[str, Any]]
    operations: frozenset[str] = OPERATIONS
    import_paths: tuple[str, ...] = field(default=("/{entity_id}/import",))


def owned_row(
    find: Callable[[sa.Connection, int], dict | None], label: str
) -> Callable[[sa.Connection, CurrentUser, int, bool], dict]:
    """A ``visible`` hook for rows with an ``account_id``: ``find(conn, id)``, else 404
    ``API.<label>_NOT_FOUND``; the caller's account checked (403 for another account's row,
    writes refused to read-only roles by :func:`api.deps.require_account_access`)."""

    def visible(conn: sa.Connection, user: CurrentUser, entity_id: Id, write: bool = False) -> dict:
        row = find(conn, entity_id)
        if row is None:
            raise ApiError(404, f"API.{label}_NOT_FOUND", f"no {label.lower().replace('_', ' ')} {entity_id}", "id")
        require_account_access(user, row["account_id"], write)
        return row

    return visible


OPERATION_SUMMARIES = {
    "list": "List {family}", "get": "Get one of {family}", "export": "Export one of {family}",
    "create": "Create one of {family}", "import": "Import one of {family}", "clone": "Clone one of {family}",
    "update": "Update one of {family}", "delete": "Delete one of {family}",
}  # fmt: skip
OPERATION_DESCRIPTIONS = {
    "list": "MyEMS `{family}` of the caller's account (admins: every account), as MyEMS lists them.",
    "get": "One of MyEMS `{family}` by id; 404 in MyEMS' error shape when unknown, 403 for another account's.",
    "export": "One of MyEMS `{family}` in the JSON that `POST /{family}/import` accepts.",
    "create": "Create one of MyEMS `{family}` from a `{{\"data\": {{...}}}}` body; 201 with its id in `Location`.",
    "import": "Create one of MyEMS `{family}` from an export (also double-wrapped in `data`); 201 with its id.",
    "clone": "Create a copy of one of MyEMS `{family}`; 201 with the new id.",
    "update": "Change one of MyEMS `{family}` from a `{{\"data\": {{...}}}}` body (every field MyEMS requires).",
    "delete": "Delete one of MyEMS `{family}`; 204, or MyEMS' error while other objects still depend on it.",
}  # fmt: skip
"""OpenAPI texts per endpoint, ``{family}`` being the family's path (e.g. ``windfarms``)."""


def resource_router(family: Family) -> APIRouter:
    """The APIRouter serving ``family``'s endpoints under ``/myems`` with MyEMS' error shape."""
    router = APIRouter(prefix=PREFIX, tags=[family.tag], route_class=MyEmsRoute)
    base, one = f"/{family.path}", f"/{family.path}/{{entity_id}}"
    for operation, path, method, endpoint, status in _endpoints(family, base, one):
        if operation in family.operations:
            router.add_api_route(
                path,
                endpoint,
                methods=[method],
                status_code=status,
                name=f"myems_{family.path}_{operation}_{method.lower()}{path.count('{')}",
                include_in_schema=not (operation == "import" and "{" in path),
                summary=OPERATION_SUMMARIES[operation].format(family=family.path),
                description=OPERATION_DESCRIPTIONS[operation].format(family=family.path),
            )
    return router


def _endpoints(family: Family, base: str, one: str) -> list[tuple[str, str, str, Callable, int]]:
    def list_all(user: MyEmsUser, conn: ReadConn) -> list[dict]:
        return [family.item(conn, row) for row in family.rows(conn, user)]

    def get_one(entity_id: Id, user: MyEmsUser, conn: ReadConn) -> dict:
        return family.item(conn, family.visible(conn, user, entity_id, False))

    def create(
        body: Envelope, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn, wait: WaitProjected
    ) -> Response:
        return created(family.path, family.create(Call(conn, user, commands, wait), body.data))

    def import_at_id(
        entity_id: Id, body: Envelope, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn, wait: WaitProjected
    ) -> Response:
        """The seed writes the import path with an id; it is ignored, as MyEMS does. An export
        wrapped once more (``{"data": {"data": {...}}}``, as the seed's data-source import) is unwrapped."""
        data = body.data
        if set(data) == {"data"} and isinstance(data["data"], dict):
            data = data["data"]
        return created(family.path, family.create(Call(conn, user, commands, wait), data))

    def clone(entity_id: Id, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn, wait: WaitProjected) -> Response:
        row = family.visible(conn, user, entity_id, False)
        return created(family.path, family.create(Call(conn, user, commands, wait), family.clone_data(row)))

    def update(
        entity_id: Id, body: Envelope, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn, wait: WaitProjected
    ) -> Response:
        family.update(Call(conn, user, commands, wait), family.visible(conn, user, entity_id, True), body.data)
        return Response(status_code=200)

    def delete(
        entity_id: Id, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn, wait: WaitProjected
    ) -> Response:
        family.delete(Call(conn, user, commands, wait), family.visible(conn, user, entity_id, True))
        return Response(status_code=204)

    imports = [("import", base + extra, "POST", import_at_id, 201) for extra in family.import_paths]
    return [
        ("list", base, "GET", list_all, 200),
        ("get", one, "GET", get_one, 200),
        ("export", f"{one}/export", "GET", get_one, 200),
        ("create", base, "POST", create, 201),
        ("import", f"{base}/import", "POST", create, 201),
        *imports,
        ("clone", f"{one}/clone", "POST", clone, 201),
        ("update", one, "PUT", update, 200),
        ("delete", one, "DELETE", delete, 204),
    ]
