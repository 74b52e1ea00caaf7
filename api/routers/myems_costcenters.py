"""MyEMS ``costcenters`` under ``/myems`` (issue 14): a cost center is the platform account that
pays (``id`` = account id), so meters, microgrids and tariffs of an account belong to its cost
center without a second copy (see :mod:`domain.myems_cost_centers`).

* ``GET /myems/costcenters`` -> ``[{"id", "name", "uuid", "external_id"}]`` (the caller's account;
  admins and auditors all), ``GET /myems/costcenters/{id}``
* ``POST /myems/costcenters`` ``{"data": {"name", "external_id"}}`` -> 201 + ``Location``: a new
  account (admins only, as MyEMS and as the platform's accounts); ``PUT .../{id}`` renames it and
  sets the external id (admins); ``DELETE .../{id}`` -> 204 (admins; 400 while the account has
  users, assets or tariffs: MyEMS' ``API.THERE_IS_RELATION_WITH_...``)
* ``GET /myems/costcenters/{id}/tariffs`` -> the bound tariffs ``[{"id", "name", "uuid",
  "tariff_type", "unit_of_price"}]`` by name; ``POST`` ``{"data": {"tariff_id"}}`` binds one of the
  account's tariffs (201 + ``Location``), ``DELETE .../tariffs/{tid}`` unbinds it (204). Cost
  reports price a cost center's energy with its bound tariffs only.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import ReadConn, require_account_access
from api.errors import ApiError
from api.myems import PREFIX, MyEmsCommands, MyEmsRoute, MyEmsUser
from api.routers.myems_common import Envelope, WaitProjected, created
from api.validation import Id, id_from_text
from commands import myems_cost_centers as handlers
from domain import myems_cost_centers as cc
from domain import myems_meters as mm
from domain import registry as ev
from projections import myems_cost_centers as ccq
from projections import myems_tariffs as tq
from projections import registry_query as rq

router = APIRouter(prefix=PREFIX, tags=["MyEMS cost centers"], route_class=MyEmsRoute)
PROJECTION = "projection.myems_cost_centers"
REGISTRY = "projection.registry"


class CostCenterData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=255)
    external_id: str | int | None = None


def _item(conn: ReadConn, account: dict) -> dict:
    return {
        "id": account["id"],
        "name": account["name"],
        "uuid": mm.entity_uuid("account", account["id"]),
        "external_id": ccq.external_id(conn, account["id"]),
    }


def _visible(conn: ReadConn, user: MyEmsUser, cost_center_id: int, write: bool = False) -> dict:
    account = rq.account_by_id(conn, cost_center_id)
    if account is None:
        raise ApiError(404, "API.COST_CENTER_NOT_FOUND", f"no cost center {cost_center_id}", "id")
    require_account_access(user, account["id"], write)
    if write and not user.is_admin:
        raise ApiError(403, "API.FORBIDDEN", "only an administrator changes cost centers")
    return account


def _require_admin(user: MyEmsUser) -> None:
    if not user.is_admin:
        raise ApiError(403, "API.FORBIDDEN", "only an administrator creates cost centers")


def _data(conn: ReadConn, body: Envelope, cost_center_id: int | None = None) -> tuple[str, str | None]:
    """(name, external id) of a create or update, unique as MyEMS wants them."""
    data = CostCenterData.model_validate(body.data)
    name = data.name.strip()
    if not name:
        raise ApiError(400, "API.INVALID_NAME_VALUE", "name must not be blank", "name")
    same = rq.account_by_name(conn, name)
    if same is not None and same["id"] != cost_center_id:
        raise ApiError(400, "API.COST_CENTER_NAME_EXISTS", f"a cost center named {name} exists", "name")
    external_id = str(data.external_id).strip() if data.external_id not in (None, "") else None
    holder = ccq.account_by_external_id(conn, external_id) if external_id else None
    if holder is not None and holder != cost_center_id:
        raise ApiError(400, "API.COST_CENTER_EXTERNAL_ID_EXISTS", f"external_id {external_id} is in use",
                       "external_id")  # fmt: skip
    return name, external_id


@router.get("/costcenters")
def list_cost_centers(user: MyEmsUser, conn: ReadConn) -> list[dict]:
    """Cost centers: the caller's account (admins and auditors: every account)."""
    if user.can_read_all:
        return [_item(conn, a) for a in rq.list_accounts(conn)]
    return [_item(conn, rq.account_by_id(conn, user.account_id))]


@router.post("/costcenters", status_code=201)
def create_cost_center(
    body: Envelope, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn, wait: WaitProjected
) -> Response:
    """A new cost center: a new account (admins only); 201 with ``Location``."""
    _require_admin(user)
    name, external_id = _data(conn, body)
    account_id = handlers.create_cost_center(commands, name, external_id)
    wait(REGISTRY, ev.stream_of("account", account_id))
    wait(PROJECTION, cc.cost_center_stream(account_id))
    return created("costcenters", account_id)


@router.get("/costcenters/{cost_center_id}")
def get_cost_center(cost_center_id: Id, user: MyEmsUser, conn: ReadConn) -> dict:
    """One cost center (an account) by id."""
    return _item(conn, _visible(conn, user, cost_center_id))


@router.put("/costcenters/{cost_center_id}")
def update_cost_center(
    cost_center_id: Id, body: Envelope, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn,
    wait: WaitProjected,
) -> Response:
    """Rename a cost center (its account) and set its external id (admins only)."""
    _visible(conn, user, cost_center_id, write=True)
    name, external_id = _data(conn, body, cost_center_id)
    handlers.update_cost_center(commands, cost_center_id, name, external_id)
    wait(REGISTRY, ev.stream_of("account", cost_center_id))
    wait(PROJECTION, cc.cost_center_stream(cost_center_id))
    return Response(status_code=200)


def _relations(conn: ReadConn, account_id: int) -> list[tuple[str, list[Any]]]:
    return [
        ("USERS", rq.list_users(conn, account_id)),
        ("METERS", rq.list_sensors(conn, account_id)),
        ("ASSETS", rq.list_assets(conn, account_id)),
        ("TARIFFS", tq.tariffs(conn, account_id)),
    ]


@router.delete("/costcenters/{cost_center_id}", status_code=204)
def delete_cost_center(
    cost_center_id: Id, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn, wait: WaitProjected
) -> Response:
    """Delete a cost center (its account; admins only): refused while anything belongs to it."""
    _visible(conn, user, cost_center_id, write=True)
    if cost_center_id == user.account_id:
        raise ApiError(400, "API.THERE_IS_RELATION_WITH_USERS", "the caller belongs to this cost center", "id")
    for what, rows in _relations(conn, cost_center_id):
        if rows:
            raise ApiError(400, f"API.THERE_IS_RELATION_WITH_{what}",
                           f"{len(rows)} {what.lower()} belong to cost center {cost_center_id}", "id")  # fmt: skip
    handlers.delete_cost_center(commands, cost_center_id)
    wait(REGISTRY, ev.stream_of("account", cost_center_id))
    return Response(status_code=204)


def _tariff_item(row: dict) -> dict:
    definition = row["definition"]
    return {"id": row["id"], "name": row["name"], "uuid": row["uuid"],
            "tariff_type": definition["tariff_type"], "unit_of_price": definition["unit_of_price"]}  # fmt: skip


@router.get("/costcenters/{cost_center_id}/tariffs")
def cost_center_tariffs(cost_center_id: Id, user: MyEmsUser, conn: ReadConn) -> list[dict]:
    """The tariffs bound to a cost center, by name."""
    account = _visible(conn, user, cost_center_id)
    return [_tariff_item(t) for t in ccq.bound_tariffs(conn, account["id"])]


def _own_tariff(conn: ReadConn, account_id: int, value: Any) -> dict:
    """The cost center's account's tariff ``value`` names (404 unknown or another account's)."""
    tariff_id = id_from_text(value)
    if tariff_id is None:
        raise ApiError(400, "API.INVALID_TARIFF_ID", "tariff_id is a positive integer", "tariff_id")
    row = tq.tariff_by_id(conn, tariff_id)
    if row is None or row["account_id"] != account_id:
        raise ApiError(404, "API.TARIFF_NOT_FOUND", f"cost center {account_id} has no tariff {tariff_id}",
                       "tariff_id")  # fmt: skip
    return row


@router.post("/costcenters/{cost_center_id}/tariffs", status_code=201)
def bind_tariff(
    cost_center_id: Id, body: Envelope, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn,
    wait: WaitProjected,
) -> Response:
    """Bind one of the account's tariffs to its cost center (admins only); 201 with ``Location``."""
    _visible(conn, user, cost_center_id, write=True)
    tariff = _own_tariff(conn, cost_center_id, body.data.get("tariff_id"))
    if ccq.is_bound(conn, cost_center_id, tariff["id"]):
        raise ApiError(400, "API.TARIFF_IS_ALREADY_ASSOCIATED_WITH_COST_CENTER",
                       f"tariff {tariff['id']} is bound to cost center {cost_center_id}", "tariff_id")  # fmt: skip
    handlers.bind_tariff(commands, cost_center_id, tariff["id"])
    wait(PROJECTION, cc.cost_center_stream(cost_center_id))
    return created(f"costcenters/{cost_center_id}/tariffs", tariff["id"])


@router.delete("/costcenters/{cost_center_id}/tariffs/{tariff_id}", status_code=204)
def unbind_tariff(
    cost_center_id: Id, tariff_id: Id, user: MyEmsUser, commands: MyEmsCommands, conn: ReadConn,
    wait: WaitProjected,
) -> Response:
    """Unbind a tariff from a cost center (admins only): its reports no longer price with it; 204."""
    _visible(conn, user, cost_center_id, write=True)
    tariff = _own_tariff(conn, cost_center_id, tariff_id)
    if not ccq.is_bound(conn, cost_center_id, tariff["id"]):
        raise ApiError(404, "API.TARIFF_IS_NOT_ASSOCIATED_WITH_COST_CENTER",
                       f"tariff {tariff['id']} is not bound to cost center {cost_center_id}", "tariff_id")  # fmt: skip
    handlers.unbind_tariff(commands, cost_center_id, tariff["id"])
    wait(PROJECTION, cc.cost_center_stream(cost_center_id))
    return Response(status_code=204)
