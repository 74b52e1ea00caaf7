"""v3 users and accounts (FlexMeasures-compatible)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ReadConn, User, require_account_access
from api.errors import ApiError
from api.schemas import AccountOut, UserOut
from api.validation import Id
from projections import registry_query as rq

router = APIRouter(prefix="/api/v3_0", tags=["accounts"])


def user_json(row: dict) -> dict:
    return {
        "id": row["id"],
        "email": row["email"],
        "username": row["username"],
        "account_id": row["account_id"],
        "active": row["active"],
        "timezone": row["timezone"],
        "flexmeasures_roles": row["roles"],
    }


def account_json(row: dict) -> dict:
    return {"id": row["id"], "name": row["name"], "account_roles": [{"name": r} for r in row["roles"]]}


@router.get("/users", response_model=list[UserOut])
def list_users(
    user: User, conn: ReadConn, account_id: Id | None = None, include_inactive: bool = False
) -> list[dict]:
    """Users of the caller's account (admins and auditors: any account, or all); as in
    FlexMeasures, only active users unless ``include_inactive``."""
    if account_id is None and not user.can_read_all:
        account_id = user.account_id
    if account_id is not None:
        require_account_access(user, account_id)
    return [user_json(r) for r in rq.list_users(conn, account_id) if include_inactive or r["active"]]


@router.get("/accounts", response_model=list[AccountOut])
def list_accounts(user: User, conn: ReadConn) -> list[dict]:
    """The accounts the caller may see: its own (admins and auditors: all)."""
    rows = rq.list_accounts(conn) if user.can_read_all else [rq.account_by_id(conn, user.account_id)]
    return [account_json(r) for r in rows if r]


@router.get("/accounts/{account_id}", response_model=AccountOut)
def get_account(account_id: Id, user: User, conn: ReadConn) -> dict:
    """One account by id (404 for another account's, unless the caller is an admin or auditor)."""
    row = rq.account_by_id(conn, account_id)
    if row is None:
        raise ApiError(404, "UNRECOGNIZED_ACCOUNT", f"no account with id {account_id}", "id")
    require_account_access(user, account_id)
    return account_json(row)
