"""Who may see which events (history, subscriptions): one small function, swappable.

The ownership rule itself is :mod:`domain.disclosure`; this module binds it to the API's
user: a user sees the events of its own account, admins and auditors see all events.
(When the project's central authorisation module lands, :func:`event_visibility` delegates to it.)

Stream keys: ``POST /api/v3_0/streams/keys`` gives an API key (``fls_...``) with the read-only
streams scope: it authenticates the subscription and history endpoints (``Authorization: fls_...``)
and nothing else; it expires after ``FLEXLEDGER_STREAM_KEY_MAX_AGE_S`` and dies with its user.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Security
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from starlette.concurrency import run_in_threadpool

from api.audit_services import AuditServices
from api.auth import CurrentUser
from api.authorization import AUTH_HEADER
from api.deps import ApiServices, Audit, Services, get_current_user
from api.errors import ApiError
from domain.disclosure import OwnershipResolver, StreamOwner, may_see
from domain.events import RecordedEvent
from projections import registry_query as rq


def may_see_owner(user: CurrentUser, owner: StreamOwner) -> bool:
    """The authorisation decision for reading events of ``owner``'s streams."""
    return may_see(owner, user.account_id, user.can_read_all)


def check_entities(user: CurrentUser, resolver: OwnershipResolver, kind: str, ids: list[int], field: str) -> None:
    """Each ``<kind>-<id>`` named in a filter exists (404) and is the user's to see (403)."""
    for entity_id in ids:
        owner = resolver.owner_of_stream(f"{kind}-{entity_id}")
        if owner.account_id is None:
            raise ApiError(404, f"UNRECOGNIZED_{kind.upper()}", f"no {kind} with id {entity_id}", field)
        if not may_see_owner(user, owner):
            raise ApiError(403, "INVALID_SENDER", f"{kind} {entity_id} belongs to another account", field)


def event_visibility(user: CurrentUser, resolver: OwnershipResolver) -> Callable[[RecordedEvent], bool]:
    """A predicate: may ``user`` see this event? (Never events of credential streams.)"""
    return lambda event: may_see_owner(user, resolver.owner_of(event))


# -- stream keys: API keys with the read-only streams scope -------------------------------------
STREAM_KEY_PREFIX = "fls_"
STREAM_KEY_SALT = "flexledger-stream-key"
STREAM_SCOPE = "streams:read"


def _stream_keys(audit: AuditServices) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(audit.stream_key_secret, salt=STREAM_KEY_SALT)


def issue_stream_key(audit: AuditServices, user: CurrentUser) -> str:
    """A key that reads streams and history as ``user`` (nothing else) until it expires."""
    return STREAM_KEY_PREFIX + _stream_keys(audit).dumps({"user_id": user.id, "scope": STREAM_SCOPE})


def _stream_key_user(audit: AuditServices, services: ApiServices, key: str) -> CurrentUser:
    try:
        data = _stream_keys(audit).loads(key.removeprefix(STREAM_KEY_PREFIX), max_age=audit.limits.key_max_age_s)
    except SignatureExpired as exc:
        raise ApiError(401, "TOKEN_EXPIRED", "the stream key has expired; create a new one") from exc
    except BadSignature as exc:
        raise ApiError(401, "UNAUTHORIZED", "invalid stream key") from exc
    if data.get("scope") != STREAM_SCOPE:
        raise ApiError(401, "UNAUTHORIZED", "this key has no streams scope")
    with services.read_connection() as conn:
        row = rq.user_by_id(conn, int(data["user_id"]))
    if row is None or not row["active"]:
        raise ApiError(401, "UNAUTHORIZED", "the user of this key no longer exists or is inactive")
    return CurrentUser(row["id"], row["account_id"], row["email"], tuple(row["roles"]))


def reader_of(audit: AuditServices, services: ApiServices, authorization: str | None) -> CurrentUser:
    """The user of a stream key (``fls_...``) or of an ordinary auth token (blocking)."""
    if authorization and authorization.removeprefix("Bearer ").strip().startswith(STREAM_KEY_PREFIX):
        return _stream_key_user(audit, services, authorization.removeprefix("Bearer ").strip())
    return get_current_user(services, authorization)


async def get_stream_reader(
    audit: Audit,
    services: Services,
    authorization: Annotated[str | None, Security(AUTH_HEADER)] = None,
) -> CurrentUser:
    """For read-only stream and history endpoints: a stream key or an auth token."""
    cached = services.tokens.users.get(authorization) if authorization else None
    if cached is not None:
        return cached
    return await run_in_threadpool(reader_of, audit, services, authorization)


StreamReader = Annotated[CurrentUser, Depends(get_stream_reader)]
