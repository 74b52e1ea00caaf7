"""Authorisation: the rules of who may read and write what, in one place.

**Accounts.** A user reads and writes the objects of their own account. Admins read and write
every account. Auditors read every account (they exist to inspect the whole platform) and
write nothing, not even in their own account. Another account's object named in a path is
403 ``INVALID_SENDER``; an unknown one 404.

**Auditors never write.** :func:`refuse_auditor_writes` is a dependency of the whole app: every
request with a method other than GET/HEAD/OPTIONS made with an auditor's token is 403
``INVALID_SENDER`` before its route runs (public writes, :data:`PUBLIC_WRITES`, excepted: an
auditor may still log in). ``tests/integration/test_api_auditors.py`` walks every write route of
the OpenAPI spec.

**References.** Every id a request names beyond its path — in a query (``account_id``), in a
body (``parent_asset_id``) or in a flex-model or flex-context, stored or sent (device ``sensor``,
``state-of-charge``, prices, ``inflexible-device-sensors``, any ``{"sensor": id}`` and any
``*-sensor`` / ``*-sensors`` field) — must belong to the account that owns the object it is
attached to (:func:`check_references`); admins are excepted. Another account's object: 403
``INVALID_SENDER`` naming the field; an unknown one: 422 ``UNRECOGNIZED_SENSOR`` /
``UNRECOGNIZED_ASSET``. The same check runs when a stored flex-model or flex-context (of the
device's asset and its ancestors) is used on behalf of a user (v2.0 ``postUdiEvent``).

**Jobs, schedules, forecasts** are found by uuid only within their sensor and account
(:func:`job_visible`): anything else is 404, as if it did not exist.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from fastapi.security import APIKeyHeader
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from api.auth import CurrentUser
from api.errors import ApiError
from api.validation import MAX_ID, id_from_text
from projections import registry_query as rq

AUTH_HEADER = APIKeyHeader(
    name="Authorization",
    scheme_name="AuthToken",
    description="An auth token from POST /api/requestAuthToken, sent as the raw header value "
    "(FlexMeasures clients) or as `Bearer <token>`.",
    auto_error=False,
)
"""The security scheme of every route that needs a user (OpenAPI ``components.securitySchemes``)."""
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PUBLIC_WRITES = frozenset({("POST", "/api/requestAuthToken"), ("POST", "/dashboard/login")})
"""(method, path) of writes that need no token, so the auditor rule does not apply."""
READS_BY_POST = frozenset({
    ("POST", "/api/audit/checkpoint/verify"),  # checks a signature, stores nothing
    ("POST", "/api/v3_0/streams/keys"),  # a read-only subscription key for the caller, stores nothing
    ("POST", "/dashboard/logout"),  # clears the browser's session cookie
})  # fmt: skip
"""(method, path) of POSTs that change no data: auditors may make them."""
NOT_AUDITED_WRITES = PUBLIC_WRITES | READS_BY_POST
AUDITOR = "auditor"


def is_auditor(user: CurrentUser) -> bool:
    """True for a user with the auditor role and no admin role: read-only everywhere."""
    return AUDITOR in user.roles and not user.is_admin


def require_account_access(user: CurrentUser, account_id: int, write: bool = False) -> None:
    """403 unless the user may read (or ``write``) the objects of ``account_id`` (module docstring)."""
    if write and is_auditor(user):
        raise ApiError(403, "INVALID_SENDER", "auditors read, they never write")
    if user.is_admin or user.account_id == account_id:
        return
    if not write and user.can_read_all:
        return
    raise ApiError(403, "INVALID_SENDER", "this resource belongs to another account")


def query_account(user: CurrentUser, account_id: int | None) -> int | None:
    """The account a list query is limited to: the one asked for (if the user may read it),
    else the user's own (admins and auditors: ``None``, all accounts)."""
    if account_id is not None:
        require_account_access(user, account_id)
        return account_id
    return None if user.can_read_all else user.account_id


async def refuse_auditor_writes(request: HTTPConnection) -> None:
    """App-wide dependency: an auditor's token on a write is 403 (see the module docstring).
    WebSocket subscriptions are reads: the rule does not apply to them."""
    if request.scope["type"] != "http":
        return
    method = request.scope["method"]
    if method in SAFE_METHODS or (method, request.url.path) in NOT_AUDITED_WRITES:
        return
    authorization = request.headers.get("authorization")
    if not authorization:
        return  # the route answers 401
    tokens = request.app.state.tokens
    user = tokens.users.get(authorization)
    if user is None:
        from api.deps import get_current_user  # deps imports this module for require_account_access

        try:
            user = await run_in_threadpool(get_current_user, request.app.state.services, authorization)
        except ApiError:
            return  # the route answers 401 for a bad or expired token
    if is_auditor(user):
        raise ApiError(403, "INVALID_SENDER", f"auditors read, they never write ({method} refused)")


def _as_id(value: Any) -> int | None:
    """An id-like reference (an int, or a string of digits) as an int (out-of-range ids: 0)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    if isinstance(value, str) and not value.strip().isdigit():
        return None
    parsed = id_from_text(value)
    return 0 if parsed is None else parsed


def _is_sensor_key(key: str) -> bool:
    return key == "sensor" or key.endswith("-sensor")


def sensor_references(value: Any, path: str) -> Iterator[tuple[int, str]]:
    """(sensor id, field path) of every sensor a flex-model or flex-context names.

    References that are not ids (``"abc"``) are left to the flex-model parser, which refuses them.
    """
    if isinstance(value, list):
        for i, item in enumerate(value):
            yield from sensor_references(item, f"{path}[{i}]")
        return
    if not isinstance(value, dict):
        return
    if set(value) == {"sensor"} and _as_id(value["sensor"]) is not None:  # a reference {"sensor": id}: its field
        yield _as_id(value["sensor"]), path
        return
    for key, item in value.items():
        where = f"{path}.{key}"
        if isinstance(key, str) and _is_sensor_key(key) and _as_id(item) is not None:
            yield _as_id(item), where
        elif isinstance(key, str) and key.endswith("-sensors") and isinstance(item, list):
            yield from ((_as_id(s), f"{where}[{i}]") for i, s in enumerate(item) if _as_id(s) is not None)
        else:
            yield from sensor_references(item, where)


def _check_owner(user: CurrentUser, owner_account_id: int, row_account_id: int, what: str, field: str) -> None:
    if user.is_admin or row_account_id == owner_account_id:
        return
    raise ApiError(403, "INVALID_SENDER", f"{what} belongs to another account", field)


def check_sensor_reference(
    conn: sa.Connection, user: CurrentUser, account_id: int, sensor_id: int, field: str, unknown_ok: bool = False
) -> dict | None:
    """The sensor row, if it exists (422, or ``None`` with ``unknown_ok``) and belongs to
    ``account_id`` (403; admins excepted)."""
    row = rq.sensor_by_id(conn, sensor_id) if 1 <= sensor_id <= MAX_ID else None
    if row is None:
        if unknown_ok:
            return None
        raise ApiError(422, "UNRECOGNIZED_SENSOR", f"no sensor with id {sensor_id}", field)
    _check_owner(user, account_id, row["account_id"], f"sensor {sensor_id}", field)
    return row


def check_asset_reference(conn: sa.Connection, user: CurrentUser, account_id: int, asset_id: int, field: str) -> dict:
    """The asset row, if it exists (422) and belongs to ``account_id`` (403; admins excepted)."""
    row = rq.asset_by_id(conn, asset_id) if 1 <= asset_id <= MAX_ID else None
    if row is None:
        raise ApiError(422, "UNRECOGNIZED_ASSET", f"no asset with id {asset_id}", field)
    _check_owner(user, account_id, row["account_id"], f"asset {asset_id}", field)
    return row


def check_references(
    conn: sa.Connection,
    user: CurrentUser,
    account_id: int,
    structures: dict[str, Any] | None = None,
    parent_asset_id: int | None = None,
    unknown_ok: bool = False,
) -> None:
    """Every id in ``parent_asset_id`` and in ``structures`` (field name -> flex-model or
    flex-context) must be an object of ``account_id`` (see the module docstring).

    ``unknown_ok``: leave unknown sensors to the flex-model parser (schedule triggers report
    them with the scheduler's codes); only another account's sensors are refused here."""
    if parent_asset_id is not None:
        check_asset_reference(conn, user, account_id, parent_asset_id, "parent_asset_id")
    for field, value in (structures or {}).items():
        for sensor_id, path in sensor_references(value, field):
            check_sensor_reference(conn, user, account_id, sensor_id, path, unknown_ok)


def ancestors(conn: sa.Connection, asset: dict) -> list[dict]:
    """The asset and its ancestors (nearest first); a cycle stops the walk."""
    chain, seen = [asset], {asset["id"]}
    while chain[-1]["parent_asset_id"] is not None and chain[-1]["parent_asset_id"] not in seen:
        parent = rq.asset_by_id(conn, chain[-1]["parent_asset_id"])
        if parent is None:
            break
        seen.add(parent["id"])
        chain.append(parent)
    return chain


def check_stored_references(conn: sa.Connection, user: CurrentUser, asset: dict) -> None:
    """The asset's stored flex-model and the flex-contexts of it and its ancestors (and the
    ancestors themselves) must name only objects of the user's account (admins excepted)."""
    if user.is_admin:
        return
    for index, row in enumerate(ancestors(conn, asset)):
        where = f"asset {row['id']}"
        if index and row["account_id"] != user.account_id:
            raise ApiError(
                403, "INVALID_SENDER", f"{where} (an ancestor) belongs to another account", "parent_asset_id"
            )
        stored = {f"{where} flex_context": row["flex_context"]}
        if index == 0:
            stored[f"{where} flex_model"] = row["flex_model"]
        check_references(conn, user, user.account_id, stored, unknown_ok=True)


def job_account(conn: sa.Connection, sensor_id: int | None, asset_id: int | None) -> int | None:
    """The account of a job's (or schedule's) sensor, else of its asset; ``None`` if neither exists."""
    if sensor_id is not None:
        sensor = rq.sensor_by_id(conn, sensor_id)
        if sensor is not None:
            return sensor["account_id"]
    if asset_id is not None:
        asset = rq.asset_by_id(conn, asset_id)
        return asset["account_id"] if asset else None
    return None


def job_visible(conn: sa.Connection, user: CurrentUser, sensor_id: int | None, asset_id: int | None) -> bool:
    """True when the user may read a job, schedule or forecast of this sensor / asset."""
    account = job_account(conn, sensor_id, asset_id)
    if account is None:
        return user.is_admin
    return user.can_read_all or account == user.account_id


def schedule_covers_sensor(conn: sa.Connection, schedule: dict, sensor: dict) -> bool:
    """True when a schedule (of an asset) can hold the device ``sensor``: the schedule's own
    sensor, or a sensor on the schedule's asset or one of its descendants, same account."""
    if schedule.get("sensor_id") == sensor["id"]:
        return True
    asset = rq.asset_by_id(conn, sensor["asset_id"])
    if asset is None:
        return False
    chain = ancestors(conn, asset)
    return any(row["id"] == schedule["asset_id"] and row["account_id"] == sensor["account_id"] for row in chain)
