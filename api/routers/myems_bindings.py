"""MyEMS' bindings under ``/myems`` (issue 14): one builder for the ``/{family}/{id}/{members}``
endpoints that bind an object to a grouping asset, e.g. ``energystoragepowerstations/{id}/containers``.

* ``GET /{family}/{id}/{members}`` -> ``[member item]`` (members deleted since are left out)
* ``POST /{family}/{id}/{members}`` ``{"data": {"<member>_id": id}}`` (an int, or digits as the seed's
  ``"point_id": "2"``) -> 201 + ``Location: .../{members}/{member id}``; 400
  ``API.<MEMBER>_RELATION_IS_ALREADY_EXISTS`` when bound already
* ``DELETE /{family}/{id}/{members}/{member id}`` -> 204; 404 ``API.<MEMBER>_RELATION_NOT_FOUND``

A binding is a relation, not a copy: the member ids are a list in the grouping asset's
``attributes.myems`` (e.g. ``container_ids``), changed through the platform's ``ChangeAsset``.
Members are checked visible to the caller and of the grouping asset's account.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Response

from api.auth import CurrentUser
from api.deps import ReadConn
from api.errors import ApiError
from api.myems import PREFIX, MyEmsCommands, MyEmsRoute, MyEmsUser
from api.routers.myems_assets import REGISTRY, AssetKind, myems_attrs
from api.routers.myems_common import Envelope, WaitProjected
from api.validation import MAX_ID, Id
from commands import registry as cmd
from domain import registry as reg

MAX_MEMBERS = 10_000
"""Bound members per grouping asset (bounds the list kept on the asset)."""


@dataclass(frozen=True)
class Binding:
    """``owner``'s ``sub`` members: ``body_field`` names one in a POST, ``attr`` is the id list on the
    owner, ``label`` the error-code stem; ``member(conn, user, id)`` the member or a 404 in MyEMS'
    shape; ``item(conn, member)`` its JSON."""

    owner: AssetKind
    sub: str
    body_field: str
    attr: str
    label: str
    member: Callable[[sa.Connection, CurrentUser, int], dict]
    item: Callable[[sa.Connection, dict], dict]
    aliases: tuple[str, ...] = ()
    """Other body fields accepted for ``body_field`` (where the seed's example names another)."""


def _member_id(binding: Binding, data: dict[str, Any]) -> int:
    value = data.get(binding.body_field)
    for alias in binding.aliases:
        value = data.get(alias) if value is None else value
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_ID:
        field = binding.body_field
        raise ApiError(400, f"API.INVALID_{field.removesuffix('_id').upper()}_ID", f"{field}: a positive id", field)
    return value


def _set_members(commands, wait, owner: dict, attr: str, ids: list[int]) -> None:
    attributes = {**owner["attributes"], "myems": {**myems_attrs(owner), attr: ids}}
    cmd.change_asset(commands, cmd.ChangeAsset(asset_id=owner["id"], changes={"attributes": attributes}))
    wait(REGISTRY, reg.stream_of("asset", owner["id"]))


def binding_router(binding: Binding) -> APIRouter:
    """The APIRouter of one binding (list, bind, unbind)."""
    router = APIRouter(prefix=PREFIX, tags=[binding.owner.tag], route_class=MyEmsRoute)
    base = f"/{binding.owner.path}/{{entity_id}}/{binding.sub}"

    def list_members(entity_id: Id, user: MyEmsUser, conn: ReadConn) -> list[dict]:
        owner = binding.owner.visible(conn, user, entity_id)
        found = []
        for member_id in myems_attrs(owner).get(binding.attr) or []:
            try:
                found.append(binding.item(conn, binding.member(conn, user, member_id)))
            except ApiError:  # deleted (or moved out of reach) since it was bound
                continue
        return found

    def bind(
        entity_id: Id, body: Envelope, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn, wait: WaitProjected
    ) -> Response:
        owner = binding.owner.visible(conn, user, entity_id, write=True)
        member_id = _member_id(binding, body.data)
        member = binding.member(conn, user, member_id)
        if member.get("account_id", owner["account_id"]) != owner["account_id"]:
            raise ApiError(404, f"API.{binding.label}_NOT_FOUND", f"no {binding.sub} {member_id}", binding.body_field)
        ids = list(myems_attrs(owner).get(binding.attr) or [])
        if member_id in ids:
            raise ApiError(400, f"API.{binding.label}_RELATION_IS_ALREADY_EXISTS", "bound already", binding.body_field)
        if len(ids) >= MAX_MEMBERS:
            raise ApiError(400, f"API.TOO_MANY_{binding.label}S", f"at most {MAX_MEMBERS}", binding.body_field)
        _set_members(commands, wait, owner, binding.attr, [*ids, member_id])
        return Response(
            status_code=201, headers={"Location": f"{PREFIX}{base.format(entity_id=entity_id)}/{member_id}"}
        )

    def unbind(
        entity_id: Id, member_id: Id, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn, wait: WaitProjected
    ) -> Response:
        owner = binding.owner.visible(conn, user, entity_id, write=True)
        ids = list(myems_attrs(owner).get(binding.attr) or [])
        if member_id not in ids:
            raise ApiError(404, f"API.{binding.label}_RELATION_NOT_FOUND", f"{member_id} is not bound", "id")
        _set_members(commands, wait, owner, binding.attr, [i for i in ids if i != member_id])
        return Response(status_code=204)

    name, owner, sub = f"myems_{binding.owner.path}_{binding.sub}", binding.owner.path, binding.sub
    router.add_api_route(
        base, list_members, methods=["GET"], name=f"{name}_list", summary=f"List the {sub} of one of {owner}",
        description=f"The {sub} bound to one of MyEMS `{owner}` (the caller's account's).",
    )  # fmt: skip
    router.add_api_route(
        base, bind, methods=["POST"], status_code=201, name=f"{name}_bind", summary=f"Bind {sub} to one of {owner}",
        description=f"Bind one of the account's {sub} (`{{\"data\": {{\"{binding.body_field}\": id}}}}`); 201 with "
        f"`Location`, 400 when already bound.",
    )  # fmt: skip
    router.add_api_route(
        f"{base}/{{member_id}}", unbind, methods=["DELETE"], status_code=204, name=f"{name}_unbind",
        summary=f"Unbind {sub} from one of {owner}", description="Remove the binding; 404 when it is not bound.",
    )  # fmt: skip
    return router
