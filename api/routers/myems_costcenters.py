"""MyEMS ``costcenters`` under ``/myems`` (issue 14), read-only: a cost center is the platform
account that pays (``id`` = account id), so meters, microgrids and tariffs of an account belong to
its cost center without a second copy. Accounts are created by the platform's administrators,
so create/update/delete and tariff binding are not served.

* ``GET /myems/costcenters`` -> ``[{"id", "name", "uuid", "external_id"}]`` (the caller's account;
  admins and auditors all), ``GET /myems/costcenters/{id}``
* ``GET /myems/costcenters/{id}/tariffs`` -> the account's tariffs ``[{"id", "name", "uuid"}]``
"""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ReadConn, require_account_access
from api.errors import ApiError
from api.myems import PREFIX, MyEmsRoute, MyEmsUser
from api.validation import Id
from domain import myems_meters as mm
from projections import myems_tariffs as tq
from projections import registry_query as rq

router = APIRouter(prefix=PREFIX, tags=["MyEMS cost centers"], route_class=MyEmsRoute)


def _item(account: dict) -> dict:
    return {
        "id": account["id"],
        "name": account["name"],
        "uuid": mm.entity_uuid("account", account["id"]),
        "external_id": None,
    }


def _visible(conn: ReadConn, user: MyEmsUser, cost_center_id: int) -> dict:
    account = rq.account_by_id(conn, cost_center_id)
    if account is None:
        raise ApiError(404, "API.COST_CENTER_NOT_FOUND", f"no cost center {cost_center_id}", "id")
    require_account_access(user, account["id"])
    return account


@router.get("/costcenters")
def list_cost_centers(user: MyEmsUser, conn: ReadConn) -> list[dict]:
    """Cost centers: the caller's account (admins and auditors: every account)."""
    if user.can_read_all:
        return [_item(a) for a in rq.list_accounts(conn)]
    return [_item(rq.account_by_id(conn, user.account_id))]


@router.get("/costcenters/{cost_center_id}")
def get_cost_center(cost_center_id: Id, user: MyEmsUser, conn: ReadConn) -> dict:
    """One cost center (an account) by id."""
    return _item(_visible(conn, user, cost_center_id))


@router.get("/costcenters/{cost_center_id}/tariffs")
def cost_center_tariffs(cost_center_id: Id, user: MyEmsUser, conn: ReadConn) -> list[dict]:
    """The tariffs of a cost center's account."""
    account = _visible(conn, user, cost_center_id)
    return [{"id": t["id"], "name": t["name"], "uuid": t["uuid"]} for t in tq.tariffs(conn, account["id"])]
