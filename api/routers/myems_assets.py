"""MyEMS families that are platform assets (issue 14): the hooks of :class:`~api.routers.
myems_resource.Family` written once for every asset-backed family (microgrids, PV stations, wind
farms, storage containers and power stations, virtual power plants, gateways, data sources,
sensors).

An :class:`AssetKind` says which asset type the family is, how its MyEMS body is validated and
turned into asset fields (MyEMS-only fields in ``attributes.myems``, with the row's ``uuid``), and
how an asset is shown; :func:`asset_family` makes the CRUD hooks: the account's assets of that
type only, ``contact_id`` a user of the account, ``cost_center_id`` the account, names unique per
family, a ``power`` sensor (kW, 15 min, consumption positive) where the kind has one, and a
delete refused while child assets of the listed types hang below the asset.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ValidationError

from api.auth import CurrentUser
from api.deps import require_account_access
from api.errors import ApiError
from api.myems import user_uuid
from api.routers.myems_resource import OPERATIONS, Call, Family
from commands import registry as cmd
from domain import myems_meters as mm
from domain import registry as reg
from projections import registry_query as rq

REGISTRY = "projection.registry"


def parse(model: type[BaseModel], data: dict[str, Any], prefix: str) -> Any:
    """``data`` validated by ``model`` (name stripped), or 400 ``API.INVALID_<PREFIX>NAME`` /
    ``API.INVALID_<FIELD>_VALUE`` / ``API.INVALID_<FIELD>_ID`` naming the field."""
    try:
        return model.model_validate({**data, "name": str(data.get("name", "")).strip()})
    except ValidationError as exc:
        field = str(exc.errors()[0]["loc"][0])
        name = field.removesuffix("_id").upper()
        raise ApiError(
            400,
            f"API.INVALID_{prefix}{name}"
            if field == "name"
            else f"API.INVALID_{name}_VALUE"
            if not field.endswith("_id")
            else f"API.INVALID_{name}_ID",
            f"{field}: {exc.errors()[0]['msg']}",
            field,
        ) from exc


def ref(entity_id: int | None, name: str | None, kind: str) -> dict | None:
    """MyEMS' ``{"id", "name", "uuid"}`` reference (``None`` without an id)."""
    return None if entity_id is None else {"id": entity_id, "name": name, "uuid": mm.entity_uuid(kind, entity_id)}


def myems_attrs(asset: dict) -> dict:
    """The MyEMS-only fields kept on an asset (``attributes.myems``)."""
    return dict((asset.get("attributes") or {}).get("myems") or {})


def asset_uuid(asset: dict) -> str:
    return myems_attrs(asset).get("uuid") or mm.entity_uuid("asset", asset["id"])


def asset_ref(asset: dict | None) -> dict | None:
    return None if asset is None else {"id": asset["id"], "name": asset["name"], "uuid": asset_uuid(asset)}


def contact_ref(conn: sa.Connection, asset: dict) -> dict | None:
    contact = rq.user_by_id(conn, myems_attrs(asset).get("contact_id") or 0)
    return (
        None
        if contact is None
        else {"id": contact["id"], "name": contact["username"], "uuid": user_uuid(contact["id"])}
    )


def cost_center_ref(conn: sa.Connection, asset: dict) -> dict | None:
    account = rq.account_by_id(conn, asset["account_id"]) or {"name": None}
    return ref(asset["account_id"], account["name"], "account")


def site_item(asset: dict) -> dict:
    """The fields MyEMS' sites share (microgrids, PV stations, wind farms, storage power stations):
    ``id, name, uuid, address, postal_code, latitude, longitude, capacity`` (kW)."""
    a = myems_attrs(asset)
    return {
        "id": asset["id"],
        "name": asset["name"],
        "uuid": asset_uuid(asset),
        "address": a.get("address"),
        "postal_code": a.get("postal_code"),
        "latitude": asset["latitude"],
        "longitude": asset["longitude"],
        "capacity": a.get("capacity"),
    }


def owner_item(conn: sa.Connection, asset: dict, qrcode: str) -> dict:
    """The closing fields MyEMS' assets share: ``contact, cost_center, svg, description, qrcode``."""
    a = myems_attrs(asset)
    return {
        "contact": contact_ref(conn, asset),
        "cost_center": cost_center_ref(conn, asset),
        "svg": a.get("svg"),
        "description": a.get("description"),
        "qrcode": f"{qrcode}:{asset_uuid(asset)}",
    }


def children(conn: sa.Connection, parent: dict, asset_types: frozenset[str] | set[str]) -> list[dict]:
    """The parent's child assets of ``asset_types`` (same account)."""
    return [
        a
        for a in rq.list_assets(conn, parent["account_id"])
        if a["parent_asset_id"] == parent["id"] and a["asset_type"] in asset_types
    ]


def merge_fields(asset: dict, fields: dict, data: Any) -> dict:
    """An update's changes: the new fields over the asset's other attributes and flex-context."""
    new = fields.get("attributes", {})
    attributes = {**asset["attributes"], **new, "myems": {**myems_attrs(asset), **new.get("myems", {})}}
    changes = {**fields, "attributes": attributes}
    if "flex_context" in fields:
        changes["flex_context"] = {**asset["flex_context"], **fields["flex_context"]}
    return changes


def _no_check(conn: sa.Connection, user: CurrentUser, data: Any) -> None:
    return None


@dataclass(frozen=True)
class AssetKind:
    """An asset-backed MyEMS family. ``label`` is its error-code stem (``WIND_FARM``); ``fields(data,
    uuid)`` the asset fields of a validated body; ``item(conn, asset)`` its MyEMS JSON; ``check``
    further reference checks; ``marked``: the asset type is shared with non-MyEMS assets, so only
    assets carrying ``attributes.myems`` belong to the family; ``parent_field`` the body field naming
    the parent asset (e.g. a data source's ``gateway_id``; ``check`` verifies it)."""

    path: str
    tag: str
    label: str
    asset_type: str
    model: type[BaseModel]
    fields: Callable[[Any, str], dict]
    item: Callable[[sa.Connection, dict], dict]
    check: Callable[[sa.Connection, CurrentUser, Any], None] = _no_check
    power_sensor: bool = False
    marked: bool = False
    blocking_children: frozenset[str] = frozenset()
    relation_code: str = "API.THERE_IS_RELATION_WITH_DEVICES"
    bindings: tuple[str, ...] = ()
    merge: Callable[[dict, dict, Any], dict] = merge_fields
    parent_field: str | None = None
    operations: frozenset[str] | None = None
    import_paths: tuple[str, ...] = ("/{entity_id}/import",)

    def member(self, asset: dict | None) -> bool:
        return (
            asset is not None
            and asset["asset_type"] == self.asset_type
            and (not self.marked or "myems" in (asset.get("attributes") or {}))
        )

    def visible(self, conn: sa.Connection, user: CurrentUser, asset_id: int, write: bool = False) -> dict:
        asset = rq.asset_by_id(conn, asset_id)
        if not self.member(asset):
            raise ApiError(404, f"API.{self.label}_NOT_FOUND", f"no {self.path} {asset_id}", "id")
        require_account_access(user, asset["account_id"], write)
        return asset


def _checked(kind: AssetKind, call: Call, data: dict[str, Any], own_id: int | None) -> Any:
    parsed = parse(kind.model, data, f"{kind.label}_")
    contact_id = getattr(parsed, "contact_id", None)
    if contact_id is not None:
        contact = rq.user_by_id(call.conn, contact_id)
        if contact is None or contact["account_id"] != call.user.account_id:
            raise ApiError(404, "API.CONTACT_NOT_FOUND", "the contact is a user of the account", "contact_id")
    if getattr(parsed, "cost_center_id", call.user.account_id) != call.user.account_id:
        raise ApiError(404, "API.COST_CENTER_NOT_FOUND", "the cost center is the account", "cost_center_id")
    kind.check(call.conn, call.user, parsed)
    for other in rq.list_assets(call.conn, call.user.account_id):
        if kind.member(other) and other["name"] == parsed.name and other["id"] != own_id:
            raise ApiError(
                400, f"API.{kind.label}_NAME_IS_ALREADY_IN_USE", f"a {kind.path} named {parsed.name} exists", "name"
            )
    return parsed


def _create(kind: AssetKind, call: Call, data: dict[str, Any]) -> int:
    parsed = _checked(kind, call, data, None)
    asset_id = cmd.register_asset(
        call.commands,
        cmd.RegisterAsset(
            account_id=call.user.account_id,
            asset_type=kind.asset_type,
            parent_asset_id=getattr(parsed, kind.parent_field) if kind.parent_field else None,
            **kind.fields(parsed, str(uuid.uuid4())),
        ),
    )
    stream = reg.stream_of("asset", asset_id)
    if kind.power_sensor:
        stream = reg.stream_of(
            "sensor",
            cmd.register_sensor(
                call.commands, cmd.RegisterSensor(asset_id=asset_id, name="power", unit="kW", event_resolution_s=900)
            ),
        )
    call.wait(REGISTRY, stream)
    return asset_id


def _update(kind: AssetKind, call: Call, asset: dict, data: dict[str, Any]) -> None:
    parsed = _checked(kind, call, data, asset["id"])
    changes = kind.merge(asset, kind.fields(parsed, asset_uuid(asset)), parsed)
    if kind.parent_field:
        changes["parent_asset_id"] = getattr(parsed, kind.parent_field)
    cmd.change_asset(call.commands, cmd.ChangeAsset(asset_id=asset["id"], changes=changes))
    call.wait(REGISTRY, reg.stream_of("asset", asset["id"]))


def delete_asset(call: Call, asset: dict, kind: AssetKind) -> None:
    """Delete the asset: 400 ``kind.relation_code`` while it has children of the blocking types,
    ``API.THERE_IS_RELATION_WITH_<BINDING>S`` while a binding list (e.g. ``container_ids``) is not empty."""
    if kind.blocking_children and children(call.conn, asset, kind.blocking_children):
        raise ApiError(400, kind.relation_code, "delete or unbind what hangs below it first", "id")
    for binding in kind.bindings:
        if myems_attrs(asset).get(binding):
            name = binding.removesuffix("_ids").upper()
            raise ApiError(400, f"API.THERE_IS_RELATION_WITH_{name}S", f"unbind its {binding} first", "id")
    cmd.delete_asset(call.commands, cmd.DeleteAsset(asset_id=asset["id"]))
    call.wait(REGISTRY, reg.stream_of("asset", asset["id"]))


def clone_data(asset: dict, parent_field: str | None = None) -> dict[str, Any]:
    """A clone's body: the asset's MyEMS fields, its place, account and parent, named `` (Copy)``."""
    data = {
        **myems_attrs(asset),
        "name": f"{asset['name']} (Copy)",
        "latitude": asset["latitude"],
        "longitude": asset["longitude"],
        "cost_center_id": asset["account_id"],
    }
    if parent_field:
        data[parent_field] = asset["parent_asset_id"]
    return data


def asset_family(kind: AssetKind) -> Family:
    """The CRUD hooks of an asset-backed family."""

    def rows(conn: sa.Connection, user: CurrentUser) -> list[dict]:
        return [a for a in rq.list_assets(conn, None if user.can_read_all else user.account_id) if kind.member(a)]

    return Family(
        path=kind.path,
        tag=kind.tag,
        rows=rows,
        visible=kind.visible,
        item=kind.item,
        create=lambda call, data: _create(kind, call, data),
        update=lambda call, asset, data: _update(kind, call, asset, data),
        delete=lambda call, asset: delete_asset(call, asset, kind),
        clone_data=lambda asset: clone_data(asset, kind.parent_field),
        operations=kind.operations or OPERATIONS,
        import_paths=kind.import_paths,
    )
