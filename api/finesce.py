"""FINESCE COS wire format: ``auth_token`` query authentication, paging, the envelope, decimals.

Every list is ``{"totalrecords": N, "records": [...]}``; a single record comes in the same
envelope with ``totalrecords`` the size of its collection (as the seed's samples show).
Paging: ``limit`` 200..1000 (default 200), ``offset`` (default 0: the first record in the
chosen order), ``order_by`` (a field of the resource, default ``id``), ``sort`` ``asc``/``desc``
(default ``desc``). Decimals are strings (``"3.52"``, ``"0.0"``), times
``2014-07-28T10:50:37.000Z``. A user sees the records of their own account; admins and
auditors see all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query

from api.auth import CurrentUser
from api.deps import ReadConn, Services, get_current_user
from api.errors import ApiError


def finesce_user(services: Services, auth_token: Annotated[str | None, Query()] = None) -> CurrentUser:
    """The user of the ``auth_token`` query parameter (FINESCE's way): the same check as the
    ``Authorization`` header's (expiry, deactivation, password changes); 401 when missing or invalid."""
    if not auth_token:
        raise ApiError(401, "UNAUTHORIZED", "missing auth_token query parameter", "auth_token")
    return get_current_user(services, auth_token)


FinesceUser = Annotated[CurrentUser, Depends(finesce_user)]


@dataclass(frozen=True)
class Paging:
    limit: int
    offset: int
    order_by: str
    sort: str


def paging(
    limit: Annotated[int, Query(ge=200, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    order_by: Annotated[str, Query(max_length=64)] = "id",
    sort: Literal["asc", "desc"] = "desc",
) -> Paging:
    return Paging(limit, offset, order_by, sort)


PagingDep = Annotated[Paging, Depends(paging)]


@dataclass(frozen=True)
class Resource:
    """A FINESCE collection over a read-model selectable: its columns by wire name, and the row format."""

    name: str
    source: sa.FromClause
    columns: dict[str, sa.ColumnElement]
    account: sa.ColumnElement
    format: object  # Callable[[dict], dict]
    extra: list[sa.ColumnElement] = field(default_factory=list)

    def selected(self) -> list[sa.ColumnElement]:
        """The columns under their wire names, then the extra ones the format needs."""
        return [column.label(name) for name, column in self.columns.items()] + self.extra


def _scoped(resource: Resource, user: CurrentUser, where: list) -> list:
    return where if user.can_read_all else [*where, resource.account == user.account_id]


def collection(conn: sa.Connection, user: CurrentUser, resource: Resource, page: Paging, where: list | None = None):
    """The envelope of one page of ``resource`` (filtered by ``where``, scoped to the user's account)."""
    if page.order_by not in resource.columns:
        known = ", ".join(sorted(resource.columns))
        raise ApiError(
            422, "INVALID_ORDER_BY", f"cannot order {resource.name} by {page.order_by!r}; use {known}", "order_by"
        )
    conditions = _scoped(resource, user, where or [])
    total = conn.execute(sa.select(sa.func.count()).select_from(resource.source).where(*conditions)).scalar_one()
    column, key = resource.columns[page.order_by], resource.columns["id"]
    order = [column.desc(), key.desc()] if page.sort == "desc" else [column.asc(), key.asc()]
    query = (
        sa.select(*resource.selected())
        .select_from(resource.source)
        .where(*conditions)
        .order_by(*order)
        .limit(page.limit)
        .offset(page.offset)
    )
    rows = [dict(r) for r in conn.execute(query).mappings()]
    return {"totalrecords": total, "records": [resource.format(r) for r in rows]}


def one(conn: sa.Connection, user: CurrentUser, resource: Resource, record_id: int) -> dict:
    """A record in the envelope (404 unknown, 403 another account's)."""
    query = (
        sa.select(*resource.selected(), resource.account.label("_account"))
        .select_from(resource.source)
        .where(resource.columns["id"] == record_id)
    )
    row = conn.execute(query).mappings().first()
    if row is None:
        raise ApiError(404, "NOT_FOUND", f"no {resource.name} record with id {record_id}", "id")
    if not user.can_read_all and row["_account"] != user.account_id:
        raise ApiError(403, "INVALID_SENDER", f"this {resource.name} record belongs to another account", "id")
    conditions = _scoped(resource, user, [])
    total = conn.execute(sa.select(sa.func.count()).select_from(resource.source).where(*conditions)).scalar_one()
    return {"totalrecords": total, "records": [resource.format(dict(row))]}


def dec(value: float | None) -> str | None:
    """A decimal as FINESCE writes it: a string with at least one decimal, at most eight."""
    if value is None:
        return None
    text = f"{round(float(value), 8) + 0.0:.8f}".rstrip("0")  # + 0.0: no "-0.0"
    return text + "0" if text.endswith(".") else text


def ts_us(epoch_us: int) -> str:
    whole = datetime.fromtimestamp(epoch_us // 1_000_000, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{whole}.{epoch_us // 1000 % 1000:03d}Z"


def ts_s(epoch_s: int) -> str:
    return ts_us(epoch_s * 1_000_000)


PAGING_TEXT = "Paged with `limit` (200..1000), `offset`, `order_by` and `sort`, in FINESCE's envelope."


def register_collection(router: APIRouter, path: str, resource: Resource) -> None:
    """Serve ``GET /{path}`` (the caller's account's records, paged) and ``GET /{path}/{record_id}``."""

    def list_records(user: FinesceUser, conn: ReadConn, page: PagingDep) -> dict:
        return collection(conn, user, resource, page)

    def get_record(record_id: int, user: FinesceUser, conn: ReadConn) -> dict:
        return one(conn, user, resource, record_id)

    router.add_api_route(
        f"/{path}", list_records, methods=["GET"], name=f"list {path}", summary=f"List {path}",
        description=f"FINESCE `{path}` of the caller's account (admins and auditors: all). {PAGING_TEXT}",
    )  # fmt: skip
    router.add_api_route(
        f"/{path}/{{record_id}}", get_record, methods=["GET"], name=f"get {path}", summary=f"Get one of {path}",
        description=f"One of FINESCE `{path}` by id, in the list's envelope; 404 when unknown, 403 for another "
        "account's.",
    )  # fmt: skip


def register_related(router: APIRouter, path: str, parent: Resource, child: Resource, condition) -> None:
    """Serve ``GET {path}`` (``/{parent}/{record_id}/{child}``): ``child`` records matching ``condition(id)``."""

    def list_related(record_id: int, user: FinesceUser, conn: ReadConn, page: PagingDep) -> dict:
        one(conn, user, parent, record_id)  # 404 / 403
        return collection(conn, user, child, page, [condition(record_id)])

    router.add_api_route(
        path, list_related, methods=["GET"], name=f"GET {path}",
        summary=f"List the {child.name} of one of {parent.name}",
        description=f"The FINESCE `{child.name}` of one of `{parent.name}` (404 / 403 for the parent as for a get). "
        f"{PAGING_TEXT}",
    )  # fmt: skip
